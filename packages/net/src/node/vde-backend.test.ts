import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VdePlugBackend } from './vde-backend.js';
import { attachResponder, runCleanups, type Cleanup } from './test-peers.js';
import { NetError } from '../common/backend/net-error.js';
import { parseMac } from '../common/packet/index.js';
import type { GuestResponder } from '../common/responder/guest-responder.js';

const cleanups: Cleanup[] = [];
afterEach(() => runCleanups(cleanups));

/** A vde_switch (Debian's vde2) on a fresh control directory, stopped after the test. */
async function vdeSwitch(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vbus-vde-'));
  const sock = join(dir, 'switch');
  // stdin stays an open pipe: the switch reads its console from it and ends on EOF
  const sw = spawn('vde_switch', ['--sock', sock], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  sw.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => sw.once('exit', () => r()));
  cleanups.push(async () => {
    sw.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 1000 && !existsSync(join(sock, 'ctl')); i++) {
    if (sw.exitCode !== null) throw new Error(`vde_switch exited: ${out}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!existsSync(join(sock, 'ctl'))) throw new Error(`vde_switch made no control socket in ${sock}: ${out}`);
  return sock;
}

async function plugged(sock: string, n: number): Promise<{ b: VdePlugBackend; guest: GuestResponder }> {
  const b = await VdePlugBackend.open({ socket: sock });
  cleanups.push(() => b.close());
  const { guest } = attachResponder(b, `g${n}`, { mac: parseMac(`02:00:00:00:0d:0${n}`), ip: `192.0.2.${30 + n}` });
  cleanups.push(() => guest.close());
  return { b, guest };
}

describe('VdePlugBackend', () => {
  it('two plugs on a vde_switch started by the test: each guest pings the other and gets UDP echoes', async () => {
    const sock = await vdeSwitch();
    const a = await plugged(sock, 1);
    const b = await plugged(sock, 2);
    expect((await a.guest.ping('192.0.2.32', 1000)).size).toBe(1000);
    expect((await b.guest.ping('192.0.2.31', 56)).from).toBe('192.0.2.31');
    const echoed = new Promise<number>((r) => a.guest.once('udp', (m) => r(m.data.length)));
    await a.guest.sendUdp('192.0.2.32', 7, new Uint8Array(1400).fill(3));
    expect(await echoed).toBe(1400);
    // what one plug received, the other sent: ARP, the echoes, the datagram and their answers
    // (a first ARP request may reach the switch before the other plug has joined it)
    const ca = a.b.counters;
    const cb = b.b.counters;
    expect(cb.framesIn).toBeGreaterThanOrEqual(4);
    expect(ca.framesIn).toBeGreaterThanOrEqual(3);
    expect(cb.framesIn).toBeLessThanOrEqual(ca.framesOut);
    expect(ca.framesIn).toBeLessThanOrEqual(cb.framesOut);
    expect(cb.bytesIn).toBeGreaterThanOrEqual(1042 + 1442);
    expect(cb.bytesIn).toBeLessThanOrEqual(ca.bytesOut);
    expect(ca.tooBig + ca.runts + ca.badLength + ca.errors + ca.dropsNoNic + ca.dropsNoPeer).toBe(0);
  });

  it('drops a frame too long for a VDE stream (1521 bytes), counting it', async () => {
    const sock = await vdeSwitch();
    const big = await VdePlugBackend.open({ socket: sock });
    cleanups.push(() => big.close());
    const p = big.attach({ name: 'big', mac: parseMac('02:00:00:00:0d:09') }, { deliver: () => true });
    expect(p.deliver(new Uint8Array(1522))).toBe(false);
    expect(p.deliver(new Uint8Array(1521))).toBe(true);
    expect(big.counters).toMatchObject({ tooBig: 1, framesOut: 1, bytesOut: 1521 });
    expect(p.counters.drops).toBe(1);
  });

  it('a plug that sends a length above 1521 is abandoned with a frame-length error; runts are counted', async () => {
    // a stand-in for vde_plug: one 10-byte runt, one good 60-byte frame, then length 0x1000
    const script =
      'const f=Buffer.alloc(62);f[1]=60;f.fill(0xff,2,8);process.stdout.write(Buffer.concat([Buffer.from([0,10]),Buffer.alloc(10),f,Buffer.from([0x10,0,1,2,3])]));setTimeout(()=>{},60000)';
    const b = await VdePlugBackend.open({ socket: 'fake', command: process.execPath, args: ['-e', script] });
    cleanups.push(() => b.close());
    const got: number[] = [];
    b.attach({ name: 'n', mac: parseMac('02:00:00:00:0d:01') }, { deliver: (f) => (got.push(f.length), true) });
    const err = await new Promise<NetError>((r) => b.once('error', r));
    expect(err.reason).toBe('frame-length');
    expect(err.value).toBe(0x1000);
    expect(got).toEqual([60]);
    expect(b.counters).toMatchObject({ runts: 1, badLength: 1, framesIn: 1, bytesIn: 60 });
  });

  it('refuses a missing program and a bad socket option, naming them', async () => {
    await expect(VdePlugBackend.open({ socket: '/nonexistent', command: 'vbus-no-such-vde_plug' })).rejects.toThrow(/cannot start vbus-no-such-vde_plug \(Debian package vde2\)/);
    await expect(VdePlugBackend.open({ socket: '' })).rejects.toThrow(/option socket/);
  });
});
