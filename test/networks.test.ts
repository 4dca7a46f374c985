// Segments beyond one process. VXLAN: `vbus serve --vxlan` joins two vbus processes into one
// segment on loopback, and joins TypeScript guests (venet, virtio-net) to a kernel `vxlan`
// interface in network namespaces this test creates (and deletes, also on failure). VDE: two
// `vbus serve --vde` processes on a vde_switch the test starts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killServes, remoteRow, serve, type Served } from './fixtures/serve-process.js';
import { VBUS_ARGS } from './fixtures/vbus-command.js';

afterAll(killServes);

const UDP_CLIENT = new URL('./fixtures/udp-echo-client.mjs', import.meta.url).pathname;

describe('vbus serve --vxlan', { timeout: 120_000 }, () => {
  it('two serve processes (venet and virtio-net) joined by VXLAN on loopback are one segment: each pings the other', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = serve(['--device', 'venet', '--ip', '192.0.2.1/24', '--vxlan', `42@127.0.0.1:${pb}`, '--vxlan-local', `127.0.0.1:${pa}`, '--ping', '192.0.2.2']);
    const b = serve(['--device', 'virtio-net', '--ip', '192.0.2.2/24', '--vxlan', `42@127.0.0.1:${pa}`, '--vxlan-local', `127.0.0.1:${pb}`, '--ping', '192.0.2.1']);
    await a.waitFor(/ping 192\.0\.2\.2: \d+ transmitted, 3 received/);
    await b.waitFor(/ping 192\.0\.2\.1: \d+ transmitted, 3 received/);
    expect(a.output()).toMatch(/vxlan vni 42 on 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+, inner MTU 1450/);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const [aIn, aInBytes, aOut, aOutBytes, aDrops] = remoteRow(a.output(), `127.0.0.1:${pb}`);
    const [bIn, bInBytes, bOut, bOutBytes, bDrops] = remoteRow(b.output(), `127.0.0.1:${pa}`);
    // three pings each way and at least one ARP exchange; every frame sent arrived, except what
    // one side sent before the other had bound its socket (none of which the receiver counted)
    expect(aIn).toBeGreaterThanOrEqual(7);
    expect(bIn).toBeGreaterThanOrEqual(7);
    expect(aIn).toBeLessThanOrEqual(bOut);
    expect(bIn).toBeLessThanOrEqual(aOut);
    expect(aInBytes).toBeLessThanOrEqual(bOutBytes);
    expect(bInBytes).toBeLessThanOrEqual(aOutBytes);
    expect([aDrops, bDrops]).toEqual(['0', '0']);
    expect(a.output()).toMatch(/echoRequestsIn 3, echoRepliesOut 3, echoRequestsOut \d+, echoRepliesIn 3/);
  });

  it('bad --vxlan values exit 2 naming the option; --help lists the options', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [...VBUS_ARGS, 'serve', '--ip', '192.0.2.1/24', ...args], { encoding: 'utf8' });
    const cases: Array<[string[], RegExp]> = [
      [['--vxlan', '42@not-an-ip'], /--vxlan must be VNI@REMOTE\[:PORT\].*got "42@not-an-ip"/],
      [['--vxlan', '16777216@127.0.0.1'], /--vxlan must be VNI@REMOTE/],
      [['--vxlan', '42@127.0.0.1:70000'], /--vxlan must be VNI@REMOTE/],
      [['--vxlan', '42@127.0.0.1', '--vxlan', '43@127.0.0.2'], /--vxlan: every tunnel of one serve carries one segment, so one VNI; got 42 and 43/],
      [['--vxlan', '42@127.0.0.1', '--vxlan-local', 'nope'], /--vxlan-local must be HOST:PORT/],
      [['--vxlan', '42@127.0.0.1', '--vxlan-local', '192.0.2.200:4789'], /--vxlan-local: .*cannot bind/],
      [['--vxlan', '42@127.0.0.1', '--vxlan-local', '127.0.0.1:0', '--mtu', '1500'], /--mtu 1500 does not fit through --vxlan: .* 1450/],
      [['--vxlan', '42@127.0.0.1', '--vxlan-mtu', '100'], /--vxlan-mtu: .*must be an integer 118\.\.65535/],
      [['--vxlan-local', '127.0.0.1:0'], /give exactly one of/],
      [['--vxlan', '42@127.0.0.1', '--ping', 'x'], /--ping must be an IPv4 address/],
    ];
    for (const [args, re] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
    const help = spawnSync(process.execPath, [...VBUS_ARGS, 'serve', '--help'], { encoding: 'utf8' });
    for (const opt of ['--vxlan <vni@remote[:port]>', '--vxlan-local', '--vxlan-mtu', '--ping', '--vde <switch>']) expect(help.stdout).toContain(opt);
  });
});

/** Run a command, throwing with its output when it fails. */
function sh(...argv: string[]): string {
  const [cmd, ...args] = argv as [string, ...string[]];
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}${r.error ?? ''}`);
  return r.stdout;
}

describe('against the Linux kernel: a `vxlan` interface in a network namespace', { timeout: 180_000 }, () => {
  it('pings and UDP-echoes a venet guest and a virtio-net guest across the tunnel, and they ping it', async () => {
    // Two namespaces joined by a veth pair (198.51.100.0/24, TEST-NET-2, is the underlay):
    //   K: the kernel's vx0 (VNI 42, 192.0.2.10/24) over 198.51.100.1
    //   V: two `vbus serve` processes, venet 192.0.2.1 on VTEP 198.51.100.2:4789 and
    //      virtio-net 192.0.2.3 on VTEP 198.51.100.3:4789, each with the kernel as remote.
    // (Both ends cannot share one namespace: Linux short-cuts vxlan traffic to a local address.)
    const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const K = `vbus-vxk-${tag}`;
    const V = `vbus-vxv-${tag}`;
    const inK = ['ip', 'netns', 'exec', K];
    const inV = ['ip', 'netns', 'exec', V];
    const served: Served[] = [];
    try {
      sh('ip', 'netns', 'add', K);
      sh('ip', 'netns', 'add', V);
      sh('ip', 'link', 'add', 'vk', 'netns', K, 'type', 'veth', 'peer', 'name', 'vv', 'netns', V);
      sh('ip', '-n', K, 'addr', 'add', '198.51.100.1/24', 'dev', 'vk');
      sh('ip', '-n', V, 'addr', 'add', '198.51.100.2/24', 'dev', 'vv');
      sh('ip', '-n', V, 'addr', 'add', '198.51.100.3/24', 'dev', 'vv');
      for (const [ns, dev] of [
        [K, 'vk'],
        [V, 'vv'],
        [K, 'lo'],
        [V, 'lo'],
      ] as const)
        sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', K, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '198.51.100.1', 'dev', 'vk');
      for (const vtep of ['198.51.100.2', '198.51.100.3']) sh(...inK, 'bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', vtep);
      // The kernel leaves inner checksums to the lower device when it can (checksum offload), and
      // a veth never computes them: a VTEP in user space would get UDP with unfinished checksums
      // (which our guests count as badChecksum and ignore). A NIC would fill them in; here vx0 must.
      sh(...inK, 'ethtool', '-K', 'vx0', 'tx', 'off');
      sh('ip', '-n', K, 'addr', 'add', '192.0.2.10/24', 'dev', 'vx0');
      sh('ip', '-n', K, 'link', 'set', 'vx0', 'up');
      expect(sh('ip', '-n', K, '-d', 'link', 'show', 'vx0')).toMatch(/mtu 1450 .*vxlan id 42/s);

      const guests = [
        { device: 'venet', ip: '192.0.2.1', vtep: '198.51.100.2' },
        { device: 'virtio-net', ip: '192.0.2.3', vtep: '198.51.100.3' },
      ];
      for (const g of guests) {
        served.push(serve(['--device', g.device, '--ip', `${g.ip}/24`, '--vxlan', '42@198.51.100.1', '--vxlan-local', `${g.vtep}:4789`, '--ping', '192.0.2.10'], inV));
      }
      // each guest pings the kernel (three replies)...
      for (const s of served) await s.waitFor(/ping 192\.0\.2\.10: \d+ transmitted, 3 received/, 90_000);
      // ...the kernel pings each guest with busybox's ping, 56 and 1400 data bytes (1442-byte
      // inner frames, within the 1450 inner MTU)...
      for (const g of guests) {
        expect(sh(...inK, 'busybox', 'ping', '-c', '3', '-W', '5', g.ip)).toMatch(/3 packets transmitted, 3 packets received/);
        expect(sh(...inK, 'busybox', 'ping', '-c', '2', '-s', '1400', '-W', '5', g.ip)).toMatch(/2 packets transmitted, 2 packets received/);
      }
      // ...and a UDP client in the kernel's namespace gets 100- and 1000-byte echoes from both.
      const udp = JSON.parse(sh(...inK, process.execPath, UDP_CLIENT, '192.0.2.10', '192.0.2.1', '192.0.2.3')) as Record<string, number[]>;
      expect(Object.fromEntries(Object.entries(udp).map(([k, v]) => [k, [...v].sort((x, y) => x - y)]))).toEqual({ '192.0.2.1': [100, 1000], '192.0.2.3': [100, 1000] });
      // the kernel learned each guest's MAC behind its VTEP
      const fdb = sh(...inK, 'bridge', 'fdb', 'show', 'dev', 'vx0');
      expect(fdb).toMatch(/dst 198\.51\.100\.2/);
      expect(fdb).toMatch(/dst 198\.51\.100\.3/);

      for (const [i, s] of served.entries()) {
        expect(await s.stop()).toBe(0);
        const out = s.output();
        const [fi, bi, fo, bo, drops] = remoteRow(out, '198.51.100.1:4789');
        // the two 1400-byte pings (1442-byte frames) and the 1000-byte datagram (1042), each way
        expect(bi).toBeGreaterThanOrEqual(2 * 1442 + 1042);
        expect(bo).toBeGreaterThanOrEqual(2 * 1442 + 1042);
        // at least: 3 + 2 echo requests in and replies out, 2 UDP echoes, 3 pings of ours each way
        expect(fi, `${guests[i]!.device}:\n${out}`).toBeGreaterThanOrEqual(3 + 2 + 2 + 3);
        expect(fo).toBeGreaterThanOrEqual(3 + 2 + 2 + 3);
        expect(drops).toBe('0');
        expect(out).toMatch(/echoRequestsIn (\d+)/);
        expect(Number(/echoRequestsIn (\d+)/.exec(out)![1])).toBeGreaterThanOrEqual(5);
        expect(Number(/udpEchoed (\d+)/.exec(out)![1])).toBeGreaterThanOrEqual(2);
        expect(out).toMatch(/badChecksum 0/);
      }
      const stats = sh('ip', '-n', K, '-s', 'link', 'show', 'vx0');
      expect(stats).toMatch(/RX:.*\n\s+\d+\s+[1-9]\d*\s+0\s+0/);
    } finally {
      for (const s of served) if (s.child.exitCode === null) s.child.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', K]);
      spawnSync('ip', ['netns', 'del', V]);
    }
  });
});

describe('vbus serve --vde', { timeout: 120_000 }, () => {
  it('two serve processes (venet and virtio-net) on a vde_switch the test starts ping each other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-vde-'));
    const sock = join(dir, 'switch');
    const sw = spawn('vde_switch', ['--sock', sock], { stdio: ['pipe', 'pipe', 'pipe'] });
    const swExited = new Promise<void>((r) => sw.once('exit', () => r()));
    try {
      for (let i = 0; i < 2000 && !existsSync(join(sock, 'ctl')); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(join(sock, 'ctl'))).toBe(true);
      const a = serve(['--device', 'venet', '--ip', '192.0.2.1/24', '--vde', sock, '--ping', '192.0.2.2']);
      const b = serve(['--device', 'virtio-net', '--ip', '192.0.2.2/24', '--vde', sock, '--ping', '192.0.2.1']);
      await a.waitFor(/ping 192\.0\.2\.2: \d+ transmitted, 3 received/);
      await b.waitFor(/ping 192\.0\.2\.1: \d+ transmitted, 3 received/);
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
      for (const s of [a, b]) {
        const vde = /vde: framesIn (\d+), bytesIn \d+, framesOut (\d+),.*tooBig 0, runts 0, badLength 0, errors 0/.exec(s.output());
        expect(vde, s.output()).not.toBeNull();
        // three echo requests and three replies each way, plus ARP
        expect(Number(vde![1])).toBeGreaterThanOrEqual(6);
        expect(Number(vde![2])).toBeGreaterThanOrEqual(6);
      }
    } finally {
      sw.kill('SIGTERM');
      await swExited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a VDE switch that is not there ends the serve with status 1 and vde_plug's message", async () => {
    const s = serve(['--ip', '192.0.2.1/24', '--vde', '/nonexistent/vbus-vde']);
    const code = await new Promise<number>((r) => s.child.once('exit', (c) => r(c ?? -1)));
    expect(code).toBe(1);
    expect(s.output()).toMatch(/--vde: .*vde_plug exited: .*\/nonexistent\/vbus-vde/);
  });
});
