import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { ConfigError } from '@vbus/core';
import { VxlanBackend } from './vxlan-backend.js';
import type { VxlanOptions } from './vxlan-options.js';
import { FrameQueue, attachResponder, runCleanups, type Cleanup, guestIp, guestMac, peerIp, peerMac } from './test-peers.js';
import { LearningSwitch } from '../common/backend/learning-switch.js';
import { connectBackends } from '../common/backend/patch-cable.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, buildArpFrame, buildUdpFrame, parseArpFrame, parseMac, parseUdpFrame } from '../common/packet/index.js';

const cleanups: Cleanup[] = [];
afterEach(() => runCleanups(cleanups));

/** A remote VTEP written by hand: it frames with literal header bytes, not with our codec. */
async function handVtep(
  vni: number,
): Promise<{ sock: Socket; port: number; inner: FrameQueue; raw: Uint8Array[]; sendTo: (port: number, bytes: Uint8Array) => void; encap: (frame: Uint8Array) => Uint8Array }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  const inner = new FrameQueue();
  const raw: Uint8Array[] = [];
  sock.on('message', (m) => {
    raw.push(new Uint8Array(m));
    inner.push(new Uint8Array(m.subarray(8)));
  });
  const encap = (frame: Uint8Array): Uint8Array => {
    const d = new Uint8Array(8 + frame.length);
    d.set([0x08, 0, 0, 0, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0]);
    d.set(frame, 8);
    return d;
  };
  return { sock, port: sock.address().port, inner, raw, sendTo: (port, bytes) => sock.send(bytes, port, '127.0.0.1'), encap };
}

async function open(options: Partial<VxlanOptions> & Pick<VxlanOptions, 'remotes'>): Promise<VxlanBackend> {
  const b = await VxlanBackend.open({ vni: 42, local: { host: '127.0.0.1', port: 0 }, ...options });
  cleanups.push(() => b.close());
  return b;
}

const arpRequest = buildArpFrame({ op: ARP_OP_REQUEST, senderMac: peerMac, senderIp: peerIp, targetMac: new Uint8Array(6), targetIp: guestIp });

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('VxlanBackend', () => {
  it('answers ARP and UDP echo from a hand-written VTEP: 8-byte header, I flag, VNI 42, reserved zero; learns the inner source', async () => {
    const peer = await handVtep(42);
    const b = await open({ remotes: [{ host: '127.0.0.1', port: peer.port }] });
    const { port } = attachResponder(b, 'g');
    peer.sendTo(b.address().port, peer.encap(arpRequest));
    const reply = parseArpFrame(await peer.inner.next())!;
    expect(reply.op).toBe(ARP_OP_REPLY);
    expect(Array.from(reply.senderMac)).toEqual(Array.from(guestMac));
    expect(Array.from(peer.raw[0]!.subarray(0, 8))).toEqual([0x08, 0, 0, 0, 0, 0, 42, 0]);
    expect(b.lookup(peerMac)).toBe(`127.0.0.1:${peer.port}`);

    const data = new Uint8Array(1000).fill(7);
    peer.sendTo(b.address().port, peer.encap(buildUdpFrame({ srcMac: peerMac, dstMac: guestMac, srcIp: peerIp, dstIp: guestIp, srcPort: 5000, dstPort: 7, data })));
    const echo = parseUdpFrame(await peer.inner.next((f) => parseUdpFrame(f) !== undefined))!;
    expect(echo).toMatchObject({ srcPort: 7, dstPort: 5000, dataLength: 1000, checksumOk: true });

    const [r] = b.remotes();
    // in: ARP 42 + UDP 14+20+8+1000; out: the same sizes back
    expect(r!.counters).toMatchObject({ framesIn: 2, bytesIn: 42 + 1042, framesOut: 2, bytesOut: 42 + 1042 });
    expect(b.counters).toMatchObject({ framesIn: 2, framesOut: 2, forwarded: 2, flooded: 0, learned: 1, foreign: 0 });
    expect(port.counters).toMatchObject({ txFrames: 2, rxFrames: 2, drops: 0 });
  });

  it('refuses hostile datagrams before reading them, counting each by reason and remote; nothing reaches the guest', async () => {
    const peer = await handVtep(42);
    const stranger = await handVtep(42);
    const b = await open({
      remotes: [
        { host: '127.0.0.1', port: peer.port },
        { host: '127.0.0.2', port: 4789 },
      ],
    });
    const { port } = attachResponder(b, 'g');
    const to = b.address().port;
    const good = peer.encap(arpRequest);
    const variant = (i: number, v: number): Uint8Array => {
      const d = good.slice();
      d[i] = v;
      return d;
    };
    peer.sendTo(to, new Uint8Array(0)); // runt
    peer.sendTo(to, good.subarray(0, 5)); // runt: short header
    peer.sendTo(to, good.subarray(0, 8 + 13)); // runt: header and a short Ethernet header
    peer.sendTo(to, variant(0, 0x00)); // flags: I clear
    peer.sendTo(to, variant(0, 0x88)); // reserved flag bit
    peer.sendTo(to, variant(2, 1)); // reserved u24
    peer.sendTo(to, variant(7, 1)); // reserved u8
    peer.sendTo(to, variant(6, 43)); // another VNI
    stranger.sendTo(to, good); // a good datagram from an unconfigured port on the same host:
    // matched by address alone (the kernel varies its source port), so it counts as the peer.
    await until(() => b.counters.framesIn === 1, 'the one good datagram');
    const d = b.remotes()[0]!.counters.drops;
    expect(d).toEqual({ runt: 3, flags: 1, reserved: 3, vni: 1, tooBig: 0, sendError: 0, backlog: 0 });
    expect(b.counters.drops).toEqual(d);
    expect(b.remotes()[1]!.counters.framesIn).toBe(0);
    expect(port.counters.rxFrames).toBe(1);
  });

  it('datagrams from an address that is no remote are foreign and dropped', async () => {
    const peer = await handVtep(42);
    const b = await open({ remotes: [{ host: '127.0.0.2', port: 4789 }] });
    attachResponder(b, 'g');
    peer.sendTo(b.address().port, peer.encap(arpRequest));
    await until(() => b.counters.foreign === 1, 'the foreign datagram');
    expect(b.counters.framesIn).toBe(0);
  });

  it('floods to every remote, then sends learned unicast to one; the entry ages out on the injected clock', async () => {
    let t = 0;
    const p1 = await handVtep(42);
    const p2 = await handVtep(42);
    const b = await open({
      remotes: [
        { host: '127.0.0.1', port: p1.port },
        { host: '127.0.0.1', port: p2.port },
      ],
      ageMs: 1000,
      clock: { now: () => t },
    });
    const sw = new LearningSwitch();
    connectBackends(sw, b, { name: 'vxlan' });
    const local = new FrameQueue();
    const lp = sw.attach({ name: 'local', mac: guestMac }, { deliver: (f) => (local.push(f.slice()), true) });
    const remoteMac = parseMac('02:00:00:00:00:77');
    const toRemote = (tag: number): Uint8Array =>
      buildUdpFrame({ srcMac: guestMac, dstMac: remoteMac, srcIp: guestIp, dstIp: peerIp, srcPort: 1, dstPort: 9, data: new Uint8Array([tag]) });
    lp.deliver(toRemote(1)); // unknown: both
    await p1.inner.next();
    await p2.inner.next();
    // remoteMac speaks from p2
    p2.sendTo(b.address().port, p2.encap(buildUdpFrame({ srcMac: remoteMac, dstMac: guestMac, srcIp: peerIp, dstIp: guestIp, srcPort: 9, dstPort: 1, data: new Uint8Array(1) })));
    await local.next();
    expect(b.lookup(remoteMac)).toBe(`127.0.0.1:${p2.port}`);
    t = 1000;
    lp.deliver(toRemote(2)); // learned: p2 only
    expect(parseUdpFrame(await p2.inner.next())!.dataLength).toBe(1);
    t = 2001;
    expect(b.entries()).toEqual([]);
    lp.deliver(toRemote(3)); // expired: both again
    await p1.inner.next();
    await p2.inner.next();
    const [c1, c2] = b.remotes().map((r) => r.counters);
    expect([c1!.framesOut, c2!.framesOut]).toEqual([2, 3]);
    expect([c1!.framesIn, c2!.framesIn]).toEqual([0, 1]);
    expect(b.counters).toMatchObject({ flooded: 2, forwarded: 1, learned: 1, expired: 1, framesOut: 3 });
    expect(p1.raw.length + p2.raw.length).toBe(5);
  });

  it('inner MTU = outer MTU - 50: a 1464-byte frame leaves, a 1465-byte frame is a counted tooBig drop', async () => {
    const peer = await handVtep(42);
    const b = await open({ remotes: [{ host: '127.0.0.1', port: peer.port }] });
    expect(b.innerMtu).toBe(1450);
    const { port } = attachResponder(b, 'g');
    const frame = (n: number): Uint8Array => {
      const f = new Uint8Array(n);
      f.fill(0xff, 0, 6);
      f.set(guestMac, 6);
      f[12] = 0x88;
      f[13] = 0xb5;
      return f;
    };
    expect(port.deliver(frame(1464))).toBe(true);
    expect(port.deliver(frame(1465))).toBe(false);
    expect((await peer.inner.next()).length).toBe(1464);
    expect(b.remotes()[0]!.counters).toMatchObject({ framesOut: 1, bytesOut: 1464, drops: { tooBig: 1 } });
    expect(port.counters).toMatchObject({ txFrames: 2, drops: 1 });
    const big = await open({ remotes: [{ host: '127.0.0.1', port: peer.port }], outerMtu: 9000 });
    expect(big.innerMtu).toBe(8950);
  });

  it('drops, counting backlog, when the socket already holds maxQueuedDatagrams', async () => {
    const peer = await handVtep(42);
    const b = await open({ remotes: [{ host: '127.0.0.1', port: peer.port }], maxQueuedDatagrams: 4 });
    const { port } = attachResponder(b, 'g');
    // On loopback a full receiver drops silently and the sender never waits, so the socket's queue
    // (it grows on a real NIC whose send buffer is full) is stood in for here.
    let waiting = 3;
    (b as unknown as { socket: { getSendQueueCount: () => number } }).socket.getSendQueueCount = () => waiting;
    const f = new Uint8Array(60).fill(0xff, 0, 6);
    expect(port.deliver(f)).toBe(true);
    waiting = 4;
    expect(port.deliver(f)).toBe(false);
    expect(port.deliver(f)).toBe(false);
    const c = b.remotes()[0]!.counters;
    expect([c.framesOut, c.drops.backlog, b.counters.drops.backlog, port.counters.drops]).toEqual([1, 2, 2, 2]);
    await until(() => peer.raw.length === 1, 'the one frame sent');
  });

  it('refuses bad configuration with the option named', async () => {
    const r = [{ host: '127.0.0.1' }];
    await expect(VxlanBackend.open({ vni: 1 << 24, remotes: r })).rejects.toThrow(/option vni = 16777216: must be an integer 0\.\.16777215/);
    await expect(VxlanBackend.open({ vni: 1, remotes: [] })).rejects.toThrow(/option remotes/);
    await expect(VxlanBackend.open({ vni: 1, remotes: [{ host: 'example' }] })).rejects.toThrow(/remotes\[0\]\.host = "example": must be an IPv4 or IPv6 address literal/);
    await expect(VxlanBackend.open({ vni: 1, remotes: [{ host: '127.0.0.1', port: 0 }] })).rejects.toThrow(/remotes\[0\]\.port/);
    await expect(VxlanBackend.open({ vni: 1, remotes: [r[0]!, r[0]!] })).rejects.toThrow(/is given twice/);
    await expect(VxlanBackend.open({ vni: 1, remotes: r, outerMtu: 100 })).rejects.toThrow(ConfigError);
    await expect(VxlanBackend.open({ vni: 1, remotes: r, local: { host: '::1' } })).rejects.toThrow(/local\.host/);
  });

  it('two backends on loopback join two switches into one segment: a guest on each pings the other', async () => {
    // a free port for the first backend, so the second can name it before it exists
    const sa = createSocket('udp4');
    await new Promise<void>((res) => sa.bind(0, '127.0.0.1', res));
    const pa = sa.address().port;
    await new Promise<void>((res) => sa.close(() => res()));
    const b = await open({ remotes: [{ host: '127.0.0.1', port: pa }] });
    const a2 = await open({ local: { host: '127.0.0.1', port: pa }, remotes: [{ host: '127.0.0.1', port: b.address().port }] });
    const swA = new LearningSwitch();
    const swB = new LearningSwitch();
    connectBackends(swA, a2, { name: 'vxlan' });
    connectBackends(swB, b, { name: 'vxlan' });
    const ga = attachResponder(swA, 'a', { mac: parseMac('02:00:00:00:0a:01'), ip: '192.0.2.21' }).guest;
    const gb = attachResponder(swB, 'b', { mac: parseMac('02:00:00:00:0b:01'), ip: '192.0.2.22' }).guest;
    expect((await ga.ping('192.0.2.22', 1000)).size).toBe(1000);
    expect((await gb.ping('192.0.2.21', 64)).from).toBe('192.0.2.21');
    // every frame one side sent arrived at the other: ARP request and reply, two echoes each way
    await until(() => b.remotes()[0]!.counters.framesIn === a2.remotes()[0]!.counters.framesOut, 'the last frame');
    const ca = a2.remotes()[0]!.counters;
    const cb = b.remotes()[0]!.counters;
    expect(ca.framesOut).toBeGreaterThanOrEqual(3);
    expect([ca.framesOut, ca.bytesOut, cb.framesOut, cb.bytesOut]).toEqual([cb.framesIn, cb.bytesIn, ca.framesIn, ca.bytesIn]);
    expect(a2.counters.drops).toEqual({ runt: 0, flags: 0, reserved: 0, vni: 0, tooBig: 0, sendError: 0, backlog: 0 });
  });
});
