import { describe, expect, it } from 'vitest';
import { ConfigError, VirtualTimeScheduler } from '@vbus/core';
import { GuestResponder } from './guest-responder.js';
import { LearningSwitch } from '../backend/learning-switch.js';
import { LoopbackBackend } from '../backend/loopback-backend.js';
import { NetError } from '../backend/net-error.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  BROADCAST_MAC,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  buildArpFrame,
  buildIcmpEchoFrame,
  buildUdpFrame,
  bytesEqual,
  formatIpv4,
  formatMac,
  internetChecksum,
  parseArpFrame,
  parseIcmpEchoFrame,
  parseIpv4,
  parseMac,
  parseUdpFrame,
  verifyChecksums,
} from '../packet/index.js';

const hostMac = parseMac('02:00:00:00:00:01');
const hostIp = parseIpv4('192.0.2.1');
const guestMac = parseMac('02:00:00:00:00:02');

function makeGuest(extra: Partial<ConstructorParameters<typeof GuestResponder>[0]> = {}) {
  const sent: Uint8Array[] = [];
  const g = new GuestResponder({ mac: guestMac, ip: '192.0.2.2', ...extra }, (f) => {
    sent.push(f.slice());
    return true;
  });
  return { g, sent };
}

/** Responders a (192.0.2.10) and b (192.0.2.11) on one switch, each sending through its port. */
function twoOnSwitch() {
  const sw = new LearningSwitch();
  const a = new GuestResponder({ mac: parseMac('02:00:00:00:00:0a'), ip: '192.0.2.10' });
  const b = new GuestResponder({ mac: parseMac('02:00:00:00:00:0b'), ip: '192.0.2.11' });
  const pa = sw.attach({ name: 'a', mac: a.mac }, a);
  const pb = sw.attach({ name: 'b', mac: b.mac }, b);
  a.setTransmit((f) => pa.deliver(f));
  b.setTransmit((f) => pb.deliver(f));
  return { sw, a, b, pa, pb };
}

describe('packets', () => {
  it('internet checksum follows RFC 1071 (worked example) and handles odd lengths', () => {
    const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(b)).toBe(~0xddf2 & 0xffff);
    expect(internetChecksum(new Uint8Array([0xab]))).toBe(~0xab00 & 0xffff);
  });

  it('parses and formats addresses, refusing junk', () => {
    expect(formatIpv4(parseIpv4('192.0.2.254'))).toBe('192.0.2.254');
    expect(formatMac(parseMac('02:AB:00:00:00:ff'))).toBe('02:ab:00:00:00:ff');
    expect(() => parseIpv4('192.0.2')).toThrow(TypeError);
    expect(() => parseIpv4('192.0.2.256')).toThrow(TypeError);
    expect(() => parseMac('02:00:00')).toThrow(TypeError);
  });

  it('parsers return undefined for truncated frames', () => {
    const f = buildIcmpEchoFrame({ srcMac: hostMac, dstMac: guestMac, srcIp: hostIp, dstIp: hostIp, type: 8, id: 1, seq: 1, data: new Uint8Array(4) });
    for (let n = 0; n < f.length; n++) expect(parseIcmpEchoFrame(f.subarray(0, n))).toBeUndefined();
    expect(parseIcmpEchoFrame(f)).toBeDefined();
  });
});

describe('GuestResponder', () => {
  it('answers an ARP request for its address and ignores one for another', () => {
    const { g, sent } = makeGuest();
    const req = (target: string) => buildArpFrame({ op: ARP_OP_REQUEST, senderMac: hostMac, senderIp: hostIp, targetMac: new Uint8Array(6), targetIp: parseIpv4(target) });
    expect(g.receive(req('192.0.2.3'))).toBe(false);
    expect(sent.length).toBe(0);
    expect(g.receive(req('192.0.2.2'))).toBe(true);
    expect(sent.length).toBe(1);
    const reply = parseArpFrame(sent[0]!)!;
    expect(reply.op).toBe(ARP_OP_REPLY);
    expect(formatMac(reply.senderMac)).toBe('02:00:00:00:00:02');
    expect(formatIpv4(reply.senderIp)).toBe('192.0.2.2');
    expect(formatMac(reply.targetMac)).toBe('02:00:00:00:00:01');
    expect(formatIpv4(reply.targetIp)).toBe('192.0.2.1');
    expect(formatMac(sent[0]!.subarray(0, 6))).toBe('02:00:00:00:00:01');
    expect(g.arpTable()).toEqual({ '192.0.2.1': '02:00:00:00:00:01' });
    expect(g.counters.arpRequestsIn).toBe(1);
    expect(g.counters.arpRepliesOut).toBe(1);
  });

  it('answers ICMP echo for every payload size 0..1472 with valid checksums and the same data', () => {
    const { g, sent } = makeGuest();
    for (let size = 0; size <= 1472; size++) {
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
      const req = buildIcmpEchoFrame({
        srcMac: hostMac,
        dstMac: guestMac,
        srcIp: hostIp,
        dstIp: parseIpv4('192.0.2.2'),
        type: ICMP_ECHO_REQUEST,
        id: 0x1234,
        seq: size,
        data,
      });
      expect(g.receive(req)).toBe(true);
      const reply = sent[sent.length - 1]!;
      expect(reply.length).toBe(14 + 20 + 8 + size);
      expect(verifyChecksums(reply)).toEqual({ ip: true, l4: true });
      const echo = parseIcmpEchoFrame(reply)!;
      expect(echo.type).toBe(ICMP_ECHO_REPLY);
      expect([echo.id, echo.seq]).toEqual([0x1234, size]);
      expect(formatIpv4(echo.ip.dst)).toBe('192.0.2.1');
      expect(formatIpv4(echo.ip.src)).toBe('192.0.2.2');
      expect(echo.dataLength).toBe(size);
      expect(bytesEqual(reply, echo.dataOffset, data, 0, size)).toBe(true);
    }
    expect(sent.length).toBe(1473);
    expect(g.counters.echoRepliesOut).toBe(1473);
  });

  it('does not answer bad checksums, other addresses, or packets above the MTU', () => {
    const { g, sent } = makeGuest();
    const req = (dst: string, size = 8) =>
      buildIcmpEchoFrame({ srcMac: hostMac, dstMac: guestMac, srcIp: hostIp, dstIp: parseIpv4(dst), type: 8, id: 1, seq: 1, data: new Uint8Array(size) });
    const bad = req('192.0.2.2');
    bad[bad.length - 1] ^= 0xff;
    expect(g.receive(bad)).toBe(false);
    const badIp = req('192.0.2.2');
    badIp[14 + 8] ^= 1; // TTL without fixing the header checksum
    expect(g.receive(badIp)).toBe(false);
    expect(g.counters.badChecksum).toBe(2);
    expect(g.receive(req('192.0.2.9'))).toBe(false);
    expect(g.receive(req('192.0.2.2', 1473))).toBe(false);
    const otherMac = req('192.0.2.2');
    otherMac[5] = 0x77;
    expect(g.receive(otherMac)).toBe(false);
    expect(g.receive(new Uint8Array(5))).toBe(false);
    expect(sent.length).toBe(0);
  });

  it('echoes UDP on port 7 with a valid checksum and emits udp events', () => {
    const { g, sent } = makeGuest();
    const seen: string[] = [];
    g.on('udp', (m) => seen.push(`${m.srcIp}:${m.srcPort}->${m.dstPort} ${new TextDecoder().decode(m.data)}`));
    const data = new TextEncoder().encode('echo me');
    g.receive(buildUdpFrame({ srcMac: hostMac, dstMac: guestMac, srcIp: hostIp, dstIp: parseIpv4('192.0.2.2'), srcPort: 5555, dstPort: 7, data }));
    g.receive(buildUdpFrame({ srcMac: hostMac, dstMac: guestMac, srcIp: hostIp, dstIp: parseIpv4('192.0.2.2'), srcPort: 5555, dstPort: 9, data }));
    expect(sent.length).toBe(1);
    const u = parseUdpFrame(sent[0]!)!;
    expect(u.checksumOk).toBe(true);
    expect([u.srcPort, u.dstPort]).toEqual([7, 5555]);
    expect(new TextDecoder().decode(sent[0]!.subarray(u.dataOffset, u.dataOffset + u.dataLength))).toBe('echo me');
    expect(seen).toEqual(['192.0.2.1:5555->7 echo me', '192.0.2.1:5555->9 echo me']);
    expect(g.counters.udpEchoed).toBe(1);
    expect(g.counters.udpIn).toBe(2);
  });

  it('pings another responder through a switch, ARP first', async () => {
    const { sw, a, b } = twoOnSwitch();
    const r = await a.ping('192.0.2.11', 1000, 77, 3);
    expect(r).toMatchObject({ from: '192.0.2.11', id: 77, seq: 3, size: 1000, ttl: 64 });
    expect(a.counters.arpRequestsOut).toBe(1);
    expect(a.counters.arpRepliesIn).toBe(1);
    expect(b.counters.echoRequestsIn).toBe(1);
    expect(a.arpTable()).toEqual({ '192.0.2.11': '02:00:00:00:00:0b' });
    // the second ping needs no ARP
    await a.ping('192.0.2.11', 0, 77, 4);
    expect(a.counters.arpRequestsOut).toBe(1);
    // UDP echo between them
    const got = new Promise<string>((resolve) => a.on('udp', (m) => resolve(`${m.srcPort} ${new TextDecoder().decode(m.data)}`)));
    expect(await a.sendUdp('192.0.2.11', 7, new TextEncoder().encode('hi'), 40000)).toBe(true);
    expect(await got).toBe('7 hi');
    expect(sw.lookup(b.mac)).toBe('b');
  });

  it("times out a ping nobody answers, after retrying ARP, in the scheduler's time (3 requests at 0, 100, 200 ms; failure at 300 ms)", async () => {
    const vts = new VirtualTimeScheduler();
    const { g, sent } = makeGuest({ timeoutMs: 300, scheduler: vts });
    let failedAt = -1;
    const p = g.ping('192.0.2.50').catch((e: unknown) => {
      failedAt = vts.now();
      throw e;
    });
    const arps = () => sent.filter((f) => parseArpFrame(f)?.op === ARP_OP_REQUEST).length;
    expect(arps()).toBe(1);
    vts.runUntil(99.999);
    expect(arps()).toBe(1);
    vts.runUntil(100);
    expect(arps()).toBe(2);
    vts.runUntil(200);
    expect(arps()).toBe(3);
    vts.runUntil(299.999);
    await Promise.resolve();
    expect(failedAt).toBe(-1);
    vts.runUntil(300);
    await expect(p).rejects.toMatchObject({ reason: 'timeout', value: '192.0.2.50' });
    expect(failedAt).toBe(300);
    expect(arps()).toBe(3);
    expect(formatMac(sent[0]!.subarray(0, 6))).toBe(formatMac(BROADCAST_MAC));
    expect(vts.pending).toBe(0);
  });

  it('times out an echo with no reply after ARP succeeded, exactly timeoutMs after it was sent', async () => {
    const vts = new VirtualTimeScheduler();
    const { g } = makeGuest({ timeoutMs: 500, scheduler: vts });
    g.receive(buildArpFrame({ op: ARP_OP_REQUEST, senderMac: hostMac, senderIp: hostIp, targetMac: new Uint8Array(6), targetIp: g.ip }));
    vts.runUntil(40);
    const p = g.ping('192.0.2.1', 10, 1, 1);
    let settled = false;
    void p.catch(() => (settled = true));
    await Promise.resolve(); // the ARP answer is cached: the echo request leaves after one await
    await Promise.resolve();
    vts.runUntil(539.999);
    await Promise.resolve();
    expect(settled).toBe(false);
    vts.runUntil(540);
    await expect(p).rejects.toBeInstanceOf(NetError);
  });

  it('close() rejects what waits and cancels every timer it armed', async () => {
    const vts = new VirtualTimeScheduler();
    const { g } = makeGuest({ timeoutMs: 300, scheduler: vts });
    const p = g.ping('192.0.2.50');
    expect(vts.pending).toBe(1);
    g.close();
    await expect(p).rejects.toMatchObject({ reason: 'closed' });
    expect(vts.pending).toBe(0);
  });

  it('refuses addresses outside its subnet without a gateway, oversize pings and bad config', async () => {
    const { g } = makeGuest();
    await expect(g.ping('198.51.100.1')).rejects.toMatchObject({ reason: 'no-route' });
    await expect(g.ping('192.0.2.1', 1473)).rejects.toMatchObject({ reason: 'size' });
    expect(() => new GuestResponder({ mac: new Uint8Array(5), ip: '192.0.2.1' })).toThrow(ConfigError);
    expect(() => new GuestResponder({ mac: guestMac, ip: 'nope' })).toThrow(ConfigError);
    expect(() => new GuestResponder({ mac: guestMac, ip: '192.0.2.1', prefixLength: 33 })).toThrow(ConfigError);
  });

  it('sends to the gateway for off-subnet addresses', async () => {
    const { g, sent } = makeGuest({ gateway: '192.0.2.1', timeoutMs: 0 });
    g.receive(buildArpFrame({ op: ARP_OP_REPLY, senderMac: hostMac, senderIp: hostIp, targetMac: guestMac, targetIp: g.ip }));
    await g.sendUdp('198.51.100.7', 53, new Uint8Array(3));
    const u = parseUdpFrame(sent[sent.length - 1]!)!;
    expect(formatIpv4(u.ip.dst)).toBe('198.51.100.7');
    expect(formatMac(sent[sent.length - 1]!.subarray(0, 6))).toBe('02:00:00:00:00:01');
  });

  it('pings itself through a loopback backend', async () => {
    const lb = new LoopbackBackend();
    const { g } = makeGuest();
    const port = lb.attach({ name: 'g', mac: g.mac }, g);
    g.setTransmit((f) => port.deliver(f));
    // Its own ARP request comes back: it answers itself, and learns itself.
    const r = await g.ping('192.0.2.2', 32);
    expect(r.from).toBe('192.0.2.2');
    expect(port.counters.txFrames).toBe(port.counters.rxFrames);
    g.close();
  });

  it('rejects waiting pings on close', async () => {
    const { g } = makeGuest({ timeoutMs: 0 });
    const p = g.ping('192.0.2.1');
    g.close();
    await expect(p).rejects.toMatchObject({ reason: 'closed' });
  });
});

describe('GuestResponder against loops, reflection and ARP growth (issue 10)', () => {
  const me = parseIpv4('192.0.2.2');
  const udpFrom = (srcPort: number, srcIp = hostIp, srcMac = hostMac, dstMac = guestMac) =>
    buildUdpFrame({ srcMac, dstMac, srcIp, dstIp: me, srcPort, dstPort: 7, data: new Uint8Array(8) });

  it('never echoes a datagram from a service port (7, 13, 19, 37, 53, any below 1024) or port 0: no echo/chargen loop', () => {
    const { g, sent } = makeGuest();
    for (const port of [0, 7, 9, 13, 19, 37, 53, 123, 1023]) g.receive(udpFrom(port));
    expect(sent.length).toBe(0);
    expect(g.counters.udpEchoRefused).toBe(9);
    g.receive(udpFrom(1024));
    g.receive(udpFrom(49152));
    expect(sent.length).toBe(2);
    expect(g.counters.udpEchoed).toBe(2);
  });

  it('two responders whose echo services face each other do not loop', () => {
    const { a, b, pa } = twoOnSwitch();
    // a datagram from A's echo port to B's echo port (as a spoofer would craft it)
    pa.deliver(buildUdpFrame({ srcMac: a.mac, dstMac: b.mac, srcIp: a.ip, dstIp: b.ip, srcPort: 7, dstPort: 7, data: new Uint8Array(4) }));
    expect(b.counters.udpEchoRefused).toBe(1);
    expect(b.counters.udpEchoed + a.counters.udpEchoed).toBe(0);
    expect(b.counters.txFrames + a.counters.txFrames).toBe(0);
  });

  it('does not answer a group source MAC, nor a broadcast, multicast or subnet-broadcast source IP', () => {
    const { g, sent } = makeGuest();
    const bad: Array<[Uint8Array, Uint8Array]> = [
      [BROADCAST_MAC, hostIp],
      [parseMac('01:00:5e:00:00:01'), hostIp],
      [hostMac, parseIpv4('255.255.255.255')],
      [hostMac, parseIpv4('224.0.0.1')],
      [hostMac, parseIpv4('192.0.2.255')],
      [hostMac, parseIpv4('0.0.0.0')],
    ];
    for (const [mac, ip] of bad) {
      g.receive(udpFrom(5555, ip, mac));
      g.receive(buildIcmpEchoFrame({ srcMac: mac, dstMac: guestMac, srcIp: ip, dstIp: me, type: ICMP_ECHO_REQUEST, id: 1, seq: 1, data: new Uint8Array(8) }));
      g.receive(buildArpFrame({ op: ARP_OP_REQUEST, senderMac: mac, senderIp: ip, targetMac: new Uint8Array(6), targetIp: me }));
    }
    // ARP from a unicast MAC with a broadcast/multicast sender IP is answered (to the unicast MAC) but never cached
    const answeredArp = sent.filter((f) => parseArpFrame(f) !== undefined).length;
    expect(sent.length).toBe(answeredArp);
    expect(g.arpTable()).toEqual({});
    expect(g.counters.groupSource).toBe(2 * 3 + 4 * 2);
    expect(g.counters.udpEchoed + g.counters.echoRepliesOut).toBe(0);
  });

  it('bounds the ARP cache (least recently refreshed dropped first) and ages entries with the injected clock', async () => {
    let t = 0;
    const { g } = makeGuest({ arpCacheSize: 4, arpAgeMs: 1000, clock: { now: () => t } });
    const arpFrom = (i: number) =>
      buildArpFrame({ op: ARP_OP_REQUEST, senderMac: Uint8Array.of(2, 0, 0, 0, 1, i), senderIp: Uint8Array.of(192, 0, 2, 100 + i), targetMac: new Uint8Array(6), targetIp: me });
    for (let i = 0; i < 1000; i++) g.receive(arpFrom(i % 100));
    expect(Object.keys(g.arpTable()).length).toBe(4);
    expect(g.arpStats.size).toBe(4);
    expect(g.arpStats.evicted).toBe(996); // every new address pushed the oldest out (i % 100 never repeats within 4)
    expect(Object.keys(g.arpTable()).sort()).toEqual(['192.0.2.196', '192.0.2.197', '192.0.2.198', '192.0.2.199']);
    t = 1001;
    expect(g.arpTable()).toEqual({});
    expect(() => makeGuest({ arpCacheSize: -1 })).toThrow(ConfigError);
  });
});
