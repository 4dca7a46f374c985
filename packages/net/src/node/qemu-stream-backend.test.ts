import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuStreamBackend, type StreamAddress } from './qemu-stream-backend.js';
import { StreamPeer, attachResponder, runCleanups, type Cleanup, guestMac, peerIp, peerMac } from './test-peers.js';
import { GuestResponder } from '../common/responder/guest-responder.js';
import { LearningSwitch } from '../common/backend/learning-switch.js';
import { connectBackends } from '../common/backend/patch-cable.js';
import type { NetError } from '../common/backend/net-error.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  buildArpFrame,
  buildEthernet,
  buildIcmpEchoFrame,
  formatIpv4,
  formatMac,
  parseArpFrame,
  parseIcmpEchoFrame,
  parseIpv4,
  parseMac,
  verifyChecksums,
} from '../common/packet/index.js';

const cleanups: Cleanup[] = [];
afterEach(() => runCleanups(cleanups));

async function listenWithGuest(address: StreamAddress) {
  const backend = await QemuStreamBackend.listen(address);
  cleanups.push(() => backend.close());
  const { guest, port } = attachResponder(backend, 'guest0', { timeoutMs: 3000 });
  cleanups.push(() => guest.close());
  const errors: NetError[] = [];
  backend.on('error', (e) => errors.push(e));
  return { backend, guest, port, errors };
}

async function dial(address: StreamAddress): Promise<StreamPeer> {
  const socket: Socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  cleanups.push(() => {
    socket.destroy();
  });
  return new StreamPeer(socket);
}

const arpRequest = () => buildArpFrame({ op: ARP_OP_REQUEST, senderMac: peerMac, senderIp: peerIp, targetMac: new Uint8Array(6), targetIp: parseIpv4('192.0.2.2') });
const echoRequest = (size: number, seq: number) =>
  buildIcmpEchoFrame({
    srcMac: peerMac,
    dstMac: guestMac,
    srcIp: peerIp,
    dstIp: parseIpv4('192.0.2.2'),
    type: ICMP_ECHO_REQUEST,
    id: 99,
    seq,
    data: Uint8Array.from({ length: size }, (_, i) => i & 0xff),
  });
const isEchoReply = (seq: number) => (f: Uint8Array) => {
  const e = parseIcmpEchoFrame(f);
  return e !== undefined && e.type === ICMP_ECHO_REPLY && e.seq === seq;
};

async function exchangeArpAndPing(peer: StreamPeer, guest: GuestResponder): Promise<void> {
  peer.send(arpRequest());
  const reply = parseArpFrame(await peer.next((f) => parseArpFrame(f)?.op === ARP_OP_REPLY))!;
  expect(formatMac(reply.senderMac)).toBe('02:00:00:00:00:02');
  expect(formatIpv4(reply.senderIp)).toBe('192.0.2.2');
  peer.send(echoRequest(1472, 1));
  const echo = await peer.next(isEchoReply(1));
  expect(echo.length).toBe(1514);
  expect(verifyChecksums(echo)).toEqual({ ip: true, l4: true });

  // The guest pings a second address behind the peer (one it has not learned from the ARP
  // request above): the peer answers ARP and the echo by hand.
  const otherMac = parseMac('02:00:00:00:00:03');
  const otherIp = parseIpv4('192.0.2.3');
  const pinging = guest.ping('192.0.2.3', 100, 7, 1);
  const req = parseArpFrame(await peer.next((f) => parseArpFrame(f)?.op === ARP_OP_REQUEST))!;
  expect(formatIpv4(req.targetIp)).toBe('192.0.2.3');
  peer.send(buildArpFrame({ op: ARP_OP_REPLY, senderMac: otherMac, senderIp: otherIp, targetMac: guestMac, targetIp: req.senderIp }));
  const ping = parseIcmpEchoFrame(await peer.next((f) => parseIcmpEchoFrame(f)?.type === ICMP_ECHO_REQUEST))!;
  expect(ping.checksumOk).toBe(true);
  expect(ping.dataLength).toBe(100);
  peer.send(
    buildIcmpEchoFrame({
      srcMac: otherMac,
      dstMac: guestMac,
      srcIp: otherIp,
      dstIp: guest.ip,
      type: ICMP_ECHO_REPLY,
      id: ping.id,
      seq: ping.seq,
      data: new Uint8Array(ping.dataLength),
    }),
  );
  expect(await pinging).toMatchObject({ from: '192.0.2.3', id: 7, seq: 1, size: 100 });
}

describe('QemuStreamBackend over TCP', () => {
  it('exchanges ARP and ping with a guest responder through a real loopback peer', async () => {
    const { backend, guest, port } = await listenWithGuest({ host: '127.0.0.1', port: 0 });
    const addr = backend.address();
    expect('port' in addr && addr.port > 0).toBe(true);
    const connected = new Promise<string>((r) => backend.once('connect', r));
    const peer = await dial(addr);
    expect(await connected).toMatch(/^127\.0\.0\.1:\d+$/);
    await exchangeArpAndPing(peer, guest);
    expect(backend.counters.framesIn).toBe(4);
    expect(backend.counters.framesOut).toBe(4);
    expect(guest.arpTable()).toEqual({ '192.0.2.1': '02:00:00:00:00:01', '192.0.2.3': '02:00:00:00:00:03' });
    expect(port.counters.txFrames).toBe(4);
    expect(port.counters.rxFrames).toBe(4);
  });

  it('reassembles frames split byte by byte and many frames in one write', async () => {
    const { backend } = await listenWithGuest({ host: '127.0.0.1', port: 0 });
    const peer = await dial(backend.address());
    await peer.sendByteByByte(echoRequest(60, 5));
    expect(parseIcmpEchoFrame(await peer.next(isEchoReply(5)))!.dataLength).toBe(60);
    // ten requests in a single write
    const h = (f: Uint8Array) => {
      const b = Buffer.alloc(4 + f.length);
      b.writeUInt32BE(f.length, 0);
      b.set(f, 4);
      return b;
    };
    peer.socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => h(echoRequest(i * 100, 10 + i)))));
    for (let i = 0; i < 10; i++) expect(parseIcmpEchoFrame(await peer.next(isEchoReply(10 + i)))!.dataLength).toBe(i * 100);
    expect(backend.counters.framesIn).toBe(11);
  });

  it('closes the connection on an oversize or zero length with a clear error, then accepts a new peer', async () => {
    const { backend, guest, errors } = await listenWithGuest({ host: '127.0.0.1', port: 0 });
    for (const bad of [4096 + 65536 + 1, 0]) {
      const peer = await dial(backend.address());
      const gone = new Promise<[string, boolean]>((r) => backend.once('disconnect', (p, mid) => r([p, mid])));
      const h = Buffer.alloc(8);
      h.writeUInt32BE(bad, 0);
      peer.socket.write(h);
      await peer.closed;
      expect((await gone)[1]).toBe(false);
      const err = errors[errors.length - 1]!;
      expect(err.reason).toBe('frame-length');
      expect(err.value).toBe(bad);
      expect(err.message).toContain(`frame length of ${bad}`);
    }
    expect(backend.counters.badLength).toBe(2);
    // the largest legal length is accepted
    const peer = await dial(backend.address());
    peer.send(new Uint8Array(4096 + 65536));
    await exchangeArpAndPing(peer, guest);
    expect(backend.connected).toBe(true);
  });

  it('detects and counts a peer that disconnects mid-frame', async () => {
    const { backend, errors } = await listenWithGuest({ host: '127.0.0.1', port: 0 });
    const peer = await dial(backend.address());
    const gone = new Promise<boolean>((r) => backend.once('disconnect', (_p, mid) => r(mid)));
    const f = echoRequest(100, 1);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(f.length, 0);
    peer.socket.end(Buffer.concat([h, f.subarray(0, 50)]));
    expect(await gone).toBe(true);
    expect(backend.counters.truncated).toBe(1);
    expect(errors.map((e) => e.reason)).toContain('truncated');
    expect(backend.connected).toBe(false);
  });

  it('refuses a second peer while one is connected, and drops (counting) frames when no peer is there', async () => {
    const { backend, port, guest } = await listenWithGuest({ host: '127.0.0.1', port: 0 });
    expect(port.deliver(arpRequest())).toBe(false);
    expect(port.counters.drops).toBe(1);
    expect(backend.counters.dropsNoPeer).toBe(1);
    const accepted = new Promise((r) => backend.once('connect', r));
    const first = await dial(backend.address());
    await accepted;
    const second = await dial(backend.address());
    await second.closed;
    expect(backend.counters.rejected).toBe(1);
    await exchangeArpAndPing(first, guest);
  });

  it('a silent peer cannot hold a listening backend: a new peer replaces it after replaceIdleMs, counted', async () => {
    let t = 0;
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 }, { replaceIdleMs: 1000, clock: { now: () => t } });
    cleanups.push(() => backend.close());
    const { guest } = attachResponder(backend, 'guest0', { timeoutMs: 3000 });
    cleanups.push(() => guest.close());
    const errors: NetError[] = [];
    backend.on('error', (e) => errors.push(e));
    const accepted = () => new Promise((r) => backend.once('connect', r));
    let up = accepted();
    const silent = await dial(backend.address());
    await up;
    // within the window the holder keeps the backend
    t = 999;
    const early = await dial(backend.address());
    await early.closed;
    expect(backend.counters.rejected).toBe(1);
    // silent past the window: the next peer takes over, the silent one is closed
    t = 2000;
    up = accepted();
    const next = await dial(backend.address());
    await up;
    await silent.closed;
    expect(backend.counters.replaced).toBe(1);
    expect(errors.map((e) => e.reason)).toEqual(['idle']);
    await exchangeArpAndPing(next, guest);
    // a peer that speaks is not replaced
    t = 2500;
    const third = await dial(backend.address());
    await third.closed;
    expect(backend.counters).toMatchObject({ rejected: 2, replaced: 1, connections: 2 });
  });

  it('idleTimeoutMs closes a peer whose socket stays idle, counted', async () => {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 }, { idleTimeoutMs: 50 });
    cleanups.push(() => backend.close());
    const gone = new Promise((r) => backend.once('disconnect', r));
    const peer = await dial(backend.address());
    await gone;
    await peer.closed;
    expect(backend.counters.idleTimeouts).toBe(1);
    expect(backend.connected).toBe(false);
  });

  it('connect mode: two responders ping each other across a real TCP connection', async () => {
    const server = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => server.close());
    const client = await QemuStreamBackend.connect(server.address());
    cleanups.push(() => client.close());
    const a = new GuestResponder({ mac: parseMac('02:00:00:00:00:0a'), ip: '192.0.2.10' });
    const b = new GuestResponder({ mac: parseMac('02:00:00:00:00:0b'), ip: '192.0.2.11' });
    const pa = server.attach({ name: 'a', mac: a.mac }, a);
    const pb = client.attach({ name: 'b', mac: b.mac }, b);
    a.setTransmit((f) => pa.deliver(f));
    b.setTransmit((f) => pb.deliver(f));
    // the server may not have accepted yet
    while (!server.connected) await new Promise((r) => setTimeout(r, 5));
    expect(await a.ping('192.0.2.11', 1472)).toMatchObject({ from: '192.0.2.11', size: 1472 });
    expect(await b.ping('192.0.2.10', 0)).toMatchObject({ from: '192.0.2.10', size: 0 });
  });

  it('joins a learning switch as a port: a remote peer reaches a switch-attached responder', async () => {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => backend.close());
    const sw = new LearningSwitch();
    connectBackends(sw, backend, { name: 'qemu0' });
    const { guest } = attachResponder(sw, 'guest');
    const peer = await dial(backend.address());
    await exchangeArpAndPing(peer, guest);
    expect(sw.lookup(peerMac)).toBe('qemu0');
    expect(sw.lookup(guestMac)).toBe('guest');
  });

  it('reports a connect failure as a NetError', async () => {
    const srv: Server = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as { port: number };
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(QemuStreamBackend.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'net', reason: 'socket' });
  });
});

describe('QemuStreamBackend over a unix socket', () => {
  it('listens on a path and exchanges ARP and ping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-stream-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'net.sock');
    const { backend, guest } = await listenWithGuest({ path });
    expect(backend.address()).toEqual({ path });
    const peer = await dial({ path });
    await exchangeArpAndPing(peer, guest);
    await peer.sendByteByByte(echoRequest(20, 9));
    await peer.next(isEchoReply(9));
  });

  it('connects to a path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-stream-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'qemu.sock');
    const accepted = new Promise<Socket>((resolve) => {
      const srv = createServer((s) => resolve(s));
      srv.listen(path);
      cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
    });
    await new Promise((r) => setTimeout(r, 20));
    const backend = await QemuStreamBackend.connect({ path });
    cleanups.push(() => backend.close());
    const { guest } = attachResponder(backend, 'g');
    const sock = await accepted;
    cleanups.push(() => {
      sock.destroy();
    });
    await exchangeArpAndPing(new StreamPeer(sock), guest);
  });
});

describe('QemuStreamBackend: a NIC burst (frames delivered with more) is one write', () => {
  // a frame of `len` bytes to the peer whose first two payload bytes number it
  const tagged = (tag: number, len = 60) => buildEthernet(peerMac, guestMac, 0x88b5, Uint8Array.of(tag & 0xff, tag >> 8, ...new Uint8Array(len - 16)));
  const tagOf = (f: Uint8Array) => f[14]! | (f[15]! << 8);
  const settleMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function nicWithPeer() {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => backend.close());
    const port = backend.attach({ name: 'nic0', mac: guestMac }, { deliver: () => true });
    const peer = await dial(backend.address());
    await settleMs(20); // the backend has accepted the peer
    return { backend, port, peer };
  }

  it('holds the frames of a burst until the NIC flushes, then they arrive whole and in order', async () => {
    const { backend, port, peer } = await nicWithPeer();
    for (let i = 0; i < 3; i++) expect(port.deliver(tagged(i), undefined, true)).toBe(true);
    await settleMs(30);
    expect(peer.frames).toHaveLength(0);
    port.flush!();
    for (let i = 0; i < 3; i++) expect(tagOf(await peer.next())).toBe(i);
    expect(backend.counters.framesOut).toBe(3);
  });

  it('a frame without more ends the burst: no flush needed', async () => {
    const { port, peer } = await nicWithPeer();
    port.deliver(tagged(1), undefined, true);
    port.deliver(tagged(2), undefined, true);
    port.deliver(tagged(3));
    for (let i = 1; i <= 3; i++) expect(tagOf(await peer.next())).toBe(i);
  });

  it('a burst larger than 64 KiB is written as it grows (no more than 64 KiB held), and arrives in order', async () => {
    const { port, peer } = await nicWithPeer();
    for (let i = 0; i < 100; i++) port.deliver(tagged(i, 1514), undefined, true);
    // before the flush: everything but the last 64 KiB or so (43 frames of 1518 bytes) has gone
    for (let i = 0; i < 100 - 44; i++) expect(tagOf(await peer.next())).toBe(i);
    port.flush!();
    for (let i = 100 - 44; i < 100; i++) expect(tagOf(await peer.next())).toBe(i);
  });

  it('through a learning switch and a patch cable: the NIC burst reaches the socket as a burst and its end flushes it', async () => {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => backend.close());
    const sw = new LearningSwitch({ name: 'sw' });
    connectBackends(sw, backend, { name: 'uplink' });
    const nic = sw.attach({ name: 'nic0', mac: guestMac }, { deliver: () => true });
    const peer = await dial(backend.address());
    await settleMs(20);
    for (let i = 0; i < 5; i++) nic.deliver(tagged(i), undefined, true);
    await settleMs(30);
    expect(peer.frames).toHaveLength(0); // corked at the far end of the cable
    nic.flush!();
    for (let i = 0; i < 5; i++) expect(tagOf(await peer.next())).toBe(i);
  });

  it('the frames of one read from the peer reach the NIC as a burst: each with more, then one flush', async () => {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => backend.close());
    const events: string[] = [];
    backend.attach({ name: 'nic0', mac: guestMac }, { deliver: (f, _o, more) => (events.push(`${tagOf(f)}${more ? '+' : ''}`), true), flush: () => events.push('flush') });
    const peer = await dial(backend.address());
    const h = (f: Uint8Array) => {
      const b = Buffer.alloc(4 + f.length);
      b.writeUInt32BE(f.length, 0);
      b.set(f, 4);
      return b;
    };
    peer.socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => h(tagged(i)))));
    const deadline = Date.now() + 5000;
    while (events.filter((e) => e !== 'flush').length < 10 && Date.now() < deadline) await settleMs(5);
    expect(events.filter((e) => e !== 'flush')).toEqual(Array.from({ length: 10 }, (_, i) => `${i}+`));
    // every burst is ended (the last event is a flush), one flush per read: at most as many as frames
    expect(events.at(-1)).toBe('flush');
    expect(events.filter((e) => e === 'flush').length).toBeLessThanOrEqual(10);
  });
});
