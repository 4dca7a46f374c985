// venet-tap: the host kernel's network stack behind the switch. In a network namespace this test
// creates (and deletes, also on failure), the kernel pings and UDP-echoes a TypeScript guest behind
// venet and one behind virtio-net, both on one learning switch cabled to a TAP (IFF_VNET_HDR).
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { attachPeer, connectBackends, GuestResponder, LearningSwitch } from '@vbus/net';
import { venetModule, VenetDriver } from '@vbus/venet';
import { VIRTIO_NET_DRIVER_FEATURES, VIRTIO_NET_F_GUEST_CSUM, VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';
import { TapBackend } from '@vbus/vhost-user/node';
import { VBUS_ARGS } from './fixtures/vbus-command.js';

const NS = `vbus-tap-${process.pid}`;
const TAP = `vbt${process.pid % 100000}`;
const KERNEL_IP = '192.0.2.10';
const GUESTS = [
  { kind: 'venet', ip: '192.0.2.1', mac: '52:54:00:00:10:01' },
  { kind: 'virtio-net', ip: '192.0.2.3', mac: '52:54:00:00:10:03' },
] as const;

function sh(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/** Run a command in the namespace without blocking our event loop (the guests must answer meanwhile). */
function inNs(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', NS, ...args]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const UDP_ECHO = `
const s = require('node:dgram').createSocket('udp4');
const [ip, size] = process.argv.slice(1);
const payload = Buffer.alloc(Number(size), 0xa5);
const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, 5000);
s.on('message', (m) => { console.log(m.equals(payload) ? 'echo-ok ' + m.length : 'echo-bad'); clearTimeout(t); s.close(); });
s.send(payload, 7, ip);
`;

describe('venet-tap: the kernel on the switch through a TAP with IFF_VNET_HDR', { timeout: 60_000 }, () => {
  let tap: TapBackend;
  let sw: LearningSwitch;
  const responders: GuestResponder[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    spawnSync('ip', ['netns', 'del', NS]); // a leftover of a killed run
    sh(['ip', 'netns', 'add', NS]);
    tap = TapBackend.open(TAP);
    // the fd keeps working after the interface moves: the kernel side lives in the namespace only
    sh(['ip', 'link', 'set', TAP, 'netns', NS]);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', `${KERNEL_IP}/24`, 'dev', TAP]);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', TAP, 'up']);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    sw = new LearningSwitch({ name: 'tap' });
    const cable = connectBackends(sw, tap, { name: 'tap', acceptsOffload: true });
    closers.push(async () => cable.disconnect());
    const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
    const bus = vbus.createBus('tap');
    for (const g of GUESTS) {
      bus.createDevice(g.kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', g.kind, { mac: g.mac, backend: sw });
      const mem = RegionMemory.create(0x10000, 8 << 20);
      const conn = new InProcessConnector(bus, mem).open(g.kind);
      const allocator = new GuestAllocator(0x10000, 8 << 20);
      const responder = new GuestResponder({ mac: Uint8Array.from(g.mac.split(':').map((x) => parseInt(x, 16))), ip: g.ip, timeoutMs: 5_000 });
      if (g.kind === 'venet') attachPeer(await VenetDriver.open(conn, allocator), responder);
      else {
        // the responder checks checksums, so this guest does not take partial ones (no GUEST_CSUM):
        // the device completes what the kernel left to offload
        const nic = await VirtioNetDriver.open(conn, allocator, { features: VIRTIO_NET_DRIVER_FEATURES & ~(1n << BigInt(VIRTIO_NET_F_GUEST_CSUM)) });
        responder.setTransmit((f) => nic.send(f));
        nic.onFrame = (f) => {
          responder.receive(f);
        };
      }
      responders.push(responder);
      closers.push(() => conn.close());
    }
  });
  afterAll(async () => {
    for (const c of closers) await c();
    await sw?.close();
    await tap?.close();
    spawnSync('ip', ['netns', 'del', NS]);
  });

  it.each(GUESTS.map((g, i) => [g.kind, g.ip, i] as const))('the kernel pings the %s guest (%s) with sizes 0, 56, 1472 and a burst', async (_kind, ip, i) => {
    for (const size of [0, 56, 1472]) {
      const r = await inNs(['busybox', 'ping', '-c', '2', '-W', '3', '-s', String(size), ip]);
      expect(r.out, r.out).toMatch(/2 packets transmitted, 2 packets received/);
    }
    const burst = await inNs(['busybox', 'ping', '-A', '-c', '50', '-s', '1000', '-q', ip]);
    expect(burst.out, burst.out).toMatch(/50 packets transmitted, 50 packets received/);
    expect(responders[i]!.counters.echoRepliesOut).toBeGreaterThanOrEqual(56);
  });

  it.each(GUESTS.map((g) => [g.kind, g.ip] as const))('the kernel UDP-echoes through the %s guest (%s), checksums offloaded through the vnet header', async (_kind, ip) => {
    for (const size of [1, 512, 1472]) {
      const r = await inNs([process.execPath, '-e', UDP_ECHO, ip, String(size)]);
      expect(r.out.trim()).toBe(`echo-ok ${size}`);
    }
    // the kernel left the UDP checksums to us (TUN_F_CSUM): they crossed as metadata, not bytes
    expect(tap.counters.csumPartialIn).toBeGreaterThan(0);
  });

  it('a TypeScript guest pings the kernel', async () => {
    const reply = await responders[0]!.ping(KERNEL_IP, 300);
    expect(reply.from).toBe(KERNEL_IP);
    expect(tap.counters.badFrames).toBe(0);
    expect(tap.counters.framesIn).toBeGreaterThan(100);
    expect(tap.counters.framesOut).toBeGreaterThan(100);
  });
});

describe('vbus serve --tap', { timeout: 60_000 }, () => {
  it('puts the kernel of a namespace on the segment: it pings the virtio-net guest, which prints its counters on SIGINT', async () => {
    const ns = `vbus-serve-${process.pid}`;
    spawnSync('ip', ['netns', 'del', ns]);
    sh(['ip', 'netns', 'add', ns]);
    // the CLI runs inside the namespace, so its TAP is created there
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...VBUS_ARGS, 'serve', '--device', 'virtio-net', '--tap', 'vbs0', '--ip', '192.0.2.1/24']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const run = (args: string[]) => spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
    try {
      for (let i = 0; i < 400 && !out.includes('vbus serve:'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(out).toMatch(/vbus serve: virtio-net .* 192\.0\.2\.1\/24 on TAP interface vbs0/);
      for (const a of [
        ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'vbs0'],
        ['ip', 'link', 'set', 'vbs0', 'up'],
      ])
        expect(run(a).status).toBe(0);
      const r = await new Promise<string>((resolve) => {
        const p = spawn('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '3', '-W', '3', '-s', '1472', '192.0.2.1']);
        let o = '';
        p.stdout.on('data', (d) => (o += d));
        p.once('exit', () => resolve(o));
      });
      expect(r).toMatch(/3 packets transmitted, 3 packets received/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toMatch(/responder: .*echoRepliesOut 3/);
    } finally {
      child.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
