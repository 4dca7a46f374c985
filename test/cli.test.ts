import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARP_OP_REPLY, ARP_OP_REQUEST, buildArpFrame, buildIcmpEchoFrame, parseArpFrame, parseIcmpEchoFrame, parseIpv4, StreamDeframer, encodeStreamFrame } from '@vbus/net';

import { VBUS_ARGS } from './fixtures/vbus-command.js';

function startServe(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; banner: string; output: () => string }> {
  const child = spawn(process.execPath, [...VBUS_ARGS, 'serve', ...args]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = out.split('\n').find((l) => l.startsWith('vbus serve:'));
      if (line) resolve({ child, banner: line, output: () => out });
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

describe('vbus CLI', () => {
  it.each(['venet', 'virtio-net', 'virtio-net-packed'])(
    'serve --device %s answers ARP and ping from a peer speaking QEMU stream framing on loopback TCP, captures to pcap, prints counters on SIGINT',
    async (device) => {
      const pcap = join(mkdtempSync(join(tmpdir(), 'vbus-cli-')), 'serve.pcap');
      const { child, banner, output } = await startServe(['--device', device, '--ip', '192.0.2.1/24', '--listen', '127.0.0.1:0', '--mac', '52:54:00:aa:bb:01', '--pcap', pcap]);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(banner)![1]);
      const sock = connect(port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      const frames: Uint8Array[] = [];
      const deframer = new StreamDeframer((f) => frames.push(f.slice()));
      sock.on('data', (chunk) => deframer.push(new Uint8Array(chunk)));
      const myMac = new Uint8Array([0x52, 0x54, 0, 0x11, 0x22, 0x33]);
      const myIp = parseIpv4('192.0.2.2');
      sock.write(encodeStreamFrame(buildArpFrame({ op: ARP_OP_REQUEST, senderMac: myMac, senderIp: myIp, targetMac: new Uint8Array(6), targetIp: parseIpv4('192.0.2.1') })));
      const waitFor = async <T>(pick: () => T | undefined): Promise<T> => {
        for (let i = 0; i < 300; i++) {
          const v = pick();
          if (v !== undefined) return v;
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error(`no answer; serve printed: ${output()}`);
      };
      const arp = await waitFor(() => frames.map(parseArpFrame).find((a) => a?.op === ARP_OP_REPLY));
      expect(Array.from(arp.senderMac)).toEqual([0x52, 0x54, 0, 0xaa, 0xbb, 1]);
      const data = new Uint8Array(1000).map((_, i) => i);
      sock.write(encodeStreamFrame(buildIcmpEchoFrame({ srcMac: myMac, dstMac: arp.senderMac, srcIp: myIp, dstIp: parseIpv4('192.0.2.1'), type: 8, id: 7, seq: 1, data })));
      const reply = await waitFor(() => frames.find((f) => parseIcmpEchoFrame(f)?.type === 0));
      const echo = parseIcmpEchoFrame(reply)!;
      expect(echo.id).toBe(7);
      expect(echo.checksumOk).toBe(true);
      expect(Array.from(reply.subarray(echo.dataOffset, echo.dataOffset + echo.dataLength))).toEqual(Array.from(data));
      sock.end();
      const exited = new Promise<number>((r) => child.once('exit', (c) => r(c ?? -1)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output()).toMatch(/rx0?\s+\d/);
      expect(existsSync(pcap)).toBe(true);
      const tshark = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'icmp.type'], { encoding: 'utf8' });
      expect(tshark.status).toBe(0);
      expect(tshark.stdout.split('\n').filter((l) => l.trim() !== '')).toEqual(expect.arrayContaining(['8', '0']));
    },
  );

  it('bad options get a clear message and exit code 2', () => {
    const r = spawnSync(process.execPath, [...VBUS_ARGS, 'serve', '--ip', '192.0.2.1/24', '--listen', 'nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--listen must be HOST:PORT/);
    const r2 = spawnSync(process.execPath, [...VBUS_ARGS, 'serve', '--listen', '127.0.0.1:0'], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/--ip/);
    const help = spawnSync(process.execPath, [...VBUS_ARGS, 'serve', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const opt of ['--listen', '--connect', '--unix', '--udp', '--pcap', '--mac', '--mtu', '--device', '--ip']) expect(help.stdout).toContain(opt);
  });

  it('demo moves frames between venet guests, then venet and virtio-net guests, in worker threads, and accounts for every frame', () => {
    const r = spawnSync(process.execPath, [...VBUS_ARGS, 'demo', '--frames', '5000'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ping venet0 -> 192\.0\.2\.11/);
    expect(r.stdout).toMatch(/virtio1 \(virtio-net, 192\.0\.2\.11, worker thread\)/);
    expect(r.stdout.match(/frames sent = delivered \+ dropped: yes/g)).toHaveLength(2);
  });
});
