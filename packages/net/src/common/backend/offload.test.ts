import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GSO_MAX_SEGMENTS, GSO_MIN_SIZE, gsoRefusal } from './gso-limits.js';
import { completeChecksum, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP, needsSoftwareOffload, SoftwareOffload } from './offload.js';
import type { FrameOffload, FrameSink } from './net-backend.js';
import { LearningSwitch } from './learning-switch.js';
import {
  ETH_HLEN,
  IPPROTO_TCP,
  IPPROTO_UDP,
  TCP_ACK,
  TCP_CWR,
  TCP_FIN,
  TCP_PSH,
  buildIpv4Frame,
  buildIpv6Frame,
  buildTcpSegment,
  buildUdpFrame,
  fillL4Checksum,
  foldSum,
  internetChecksum,
  locateL4,
  parseIpv4,
  pseudoSum,
  verifyChecksums,
} from '../packet/index.js';
import { le } from '@vbus/core';

const srcMac = new Uint8Array([2, 0, 0, 0, 0, 1]);
const dstMac = new Uint8Array([2, 0, 0, 0, 0, 2]);
const v6a = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 1 ? 0x01 : i === 2 ? 0x0d : i === 3 ? 0xb8 : i === 15 ? 1 : 0));
const v6b = Uint8Array.from(v6a, (b, i) => (i === 15 ? 2 : b));

function tcpFrame(version: 4 | 6, data: Uint8Array, flags = TCP_ACK | TCP_PSH, seq = 1000, options?: Uint8Array): Uint8Array {
  const payload = buildTcpSegment({ srcPort: 40000, dstPort: 80, seq, ack: 5, flags, data, options });
  return version === 4
    ? buildIpv4Frame({ srcMac, dstMac, srcIp: parseIpv4('192.0.2.1'), dstIp: parseIpv4('192.0.2.2'), protocol: IPPROTO_TCP, payload, id: 0xfffe })
    : buildIpv6Frame({ srcMac, dstMac, srcIp: v6a, dstIp: v6b, nextHeader: IPPROTO_TCP, payload });
}

/** Put the folded pseudo-header sum into the checksum field, as a sender with NEEDS_CSUM does. */
function seedPartial(frame: Uint8Array): FrameOffload {
  const loc = locateL4(frame)!;
  const off = loc.protocol === IPPROTO_TCP ? 16 : 6;
  le.setBE16(frame, loc.l4Offset + off, foldSum(pseudoSum(frame, loc)));
  return { needsCsum: true, csumStart: loc.l4Offset, csumOffset: off, gsoType: GSO_NONE, gsoSize: 0, hdrLen: 0, ecn: false };
}

class Collector implements FrameSink {
  frames: Uint8Array[] = [];
  offloads: (FrameOffload | undefined)[] = [];
  deliver(frame: Uint8Array, o?: FrameOffload): boolean {
    this.frames.push(frame.slice());
    this.offloads.push(o);
    return true;
  }
}

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

describe('checksum completion', () => {
  it('matches a full software checksum (TCP and UDP, IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(bytes(3000), fc.constantFrom<4 | 6>(4, 6), fc.boolean(), (data, version, udp) => {
        let frame: Uint8Array;
        if (udp) {
          frame = buildUdpFrame({ srcMac, dstMac, srcIp: parseIpv4('192.0.2.1'), dstIp: parseIpv4('192.0.2.9'), srcPort: 1, dstPort: 2, data });
        } else {
          frame = tcpFrame(version, data);
        }
        const reference = frame.slice();
        fillL4Checksum(reference);
        const partial = frame.slice();
        const o = seedPartial(partial);
        expect(completeChecksum(partial, o.csumStart, o.csumOffset)).toBe(true);
        const at = o.csumStart + o.csumOffset;
        const got = le.getBE16(partial, at);
        const want = le.getBE16(reference, at);
        // 0x0000 and 0xffff are the same ones'-complement value; UDP writes the latter.
        expect(got === want || (got === 0 && want === 0xffff)).toBe(true);
        expect(verifyChecksums(partial)!.l4).toBe(true);
      }),
    );
  });

  it('SoftwareOffload completes a copy and leaves the input untouched; UDP zero becomes 0xffff', () => {
    const frame = tcpFrame(4, new TextEncoder().encode('hello, checksum'));
    const o = seedPartial(frame);
    const before = frame.slice();
    const out = new Collector();
    const engine = new SoftwareOffload();
    expect(needsSoftwareOffload(o)).toBe(true);
    expect(engine.process(frame, o, out)).toBe(true);
    expect(frame).toEqual(before);
    expect(out.frames.length).toBe(1);
    expect(out.offloads[0]).toBeUndefined();
    expect(verifyChecksums(out.frames[0]!)).toEqual({ ip: true, l4: true });
    expect(engine.stats.checksums).toBe(1);
  });

  it('refuses metadata that points outside the frame, without throwing', () => {
    const frame = tcpFrame(4, new Uint8Array(10));
    const engine = new SoftwareOffload();
    const out = new Collector();
    const bad: FrameOffload = { needsCsum: true, csumStart: frame.length - 1, csumOffset: 0, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false };
    expect(engine.process(frame, bad, out)).toBe(false);
    expect(engine.process(frame, { ...bad, csumStart: 34, csumOffset: 1e9 }, out)).toBe(false);
    expect(engine.process(frame, { ...bad, needsCsum: false, gsoType: GSO_TCPV6, gsoSize: 100 }, out)).toBe(false);
    expect(engine.process(frame, { ...bad, needsCsum: false, gsoType: GSO_TCPV4, gsoSize: 0 }, out)).toBe(false);
    expect(engine.process(frame, { ...bad, needsCsum: false, gsoType: 9, gsoSize: 100 }, out)).toBe(false);
    expect(engine.stats.errors).toBe(5);
    expect(out.frames.length).toBe(0);
    expect(completeChecksum(frame, 20, -1)).toBe(false);
  });

  it('passes plain frames straight through', () => {
    const out = new Collector();
    const f = tcpFrame(4, new Uint8Array(5));
    expect(new SoftwareOffload().process(f, undefined, out)).toBe(true);
    expect(out.frames[0]).toEqual(f);
  });
});

describe('TCP segmentation (GSO)', () => {
  it('property: segments are valid, carry the payload in order, with fixed-up headers', () => {
    fc.assert(
      fc.property(
        bytes(6000),
        fc.integer({ min: GSO_MIN_SIZE, max: 1460 }),
        fc.constantFrom<4 | 6>(4, 6),
        fc.integer({ min: 0, max: 0xff }),
        fc.nat(0xffffffff),
        fc.boolean(),
        (data, mss, version, flags, seq, withOptions) => {
          const options = withOptions ? new Uint8Array([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]) : undefined; // NOP NOP timestamps
          const frame = tcpFrame(version, data, flags, seq, options);
          const o = seedPartial(frame);
          o.gsoType = version === 4 ? GSO_TCPV4 : GSO_TCPV6;
          o.gsoSize = mss;
          const out = new Collector();
          const engine = new SoftwareOffload();
          expect(engine.process(frame, o, out)).toBe(true);
          const n = Math.max(1, Math.ceil(data.length / mss));
          expect(out.frames.length).toBe(n);
          const thl = 20 + (options?.length ?? 0);
          const hdrEnd = ETH_HLEN + (version === 4 ? 20 : 40) + thl;
          const joined: number[] = [];
          out.frames.forEach((seg, i) => {
            expect(verifyChecksums(seg)).toEqual({ ip: true, l4: true });
            const loc = locateL4(seg)!;
            const pay = seg.subarray(hdrEnd);
            expect(pay.length).toBeLessThanOrEqual(mss);
            expect(loc.l4Length).toBe(thl + pay.length);
            expect(le.getBE32(seg, loc.l4Offset + 4)).toBe((seq + i * mss) >>> 0);
            const f = seg[loc.l4Offset + 13]!;
            const last = i === n - 1;
            expect(f & (TCP_FIN | TCP_PSH)).toBe(last ? flags & (TCP_FIN | TCP_PSH) : 0);
            expect(f & TCP_CWR).toBe(i === 0 ? flags & TCP_CWR : 0);
            expect(f & ~(TCP_FIN | TCP_PSH | TCP_CWR)).toBe(flags & ~(TCP_FIN | TCP_PSH | TCP_CWR));
            if (version === 4) expect(le.getBE16(seg, ETH_HLEN + 4)).toBe((0xfffe + i) & 0xffff);
            // options copied to every segment
            expect(seg.subarray(loc.l4Offset + 20, loc.l4Offset + thl)).toEqual(frame.subarray(loc.l4Offset + 20, loc.l4Offset + thl));
            joined.push(...pay);
          });
          expect(Uint8Array.from(joined)).toEqual(data);
          expect(engine.stats.segments).toBe(n);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a sink that sends back through the same engine does not corrupt the segment being delivered', () => {
    const engine = new SoftwareOffload();
    const frame = tcpFrame(
      4,
      Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff),
    );
    const o = seedPartial(frame);
    o.gsoType = GSO_TCPV4;
    o.gsoSize = 1000;
    const other = tcpFrame(4, new Uint8Array(2500).fill(0xee));
    const oo = seedPartial(other);
    oo.gsoType = GSO_TCPV4;
    oo.gsoSize = 700;
    const seen: Uint8Array[] = [];
    const sink: FrameSink = {
      deliver(seg) {
        const copyBefore = seg.slice();
        engine.process(other, oo, { deliver: () => true });
        expect(seg).toEqual(copyBefore);
        seen.push(copyBefore);
        return true;
      },
    };
    expect(engine.process(frame, o, sink)).toBe(true);
    expect(seen.length).toBe(3);
  });
});

describe('UDP fragmentation (UFO)', () => {
  it('fragments reassemble to the datagram with a valid UDP checksum', () => {
    fc.assert(
      fc.property(bytes(5000), fc.integer({ min: GSO_MIN_SIZE, max: 1480 }), (data, size) => {
        const frame = buildUdpFrame({ srcMac, dstMac, srcIp: parseIpv4('192.0.2.1'), dstIp: parseIpv4('192.0.2.2'), srcPort: 9, dstPort: 7, data });
        const o = seedPartial(frame);
        o.gsoType = GSO_UDP;
        o.gsoSize = size;
        const out = new Collector();
        expect(new SoftwareOffload().process(frame, o, out)).toBe(true);
        const step = Math.floor(size / 8) * 8;
        const l4len = 8 + data.length;
        expect(out.frames.length).toBe(Math.ceil(l4len / step));
        const whole = new Uint8Array(ETH_HLEN + 20 + l4len);
        whole.set(out.frames[0]!.subarray(0, ETH_HLEN + 20));
        out.frames.forEach((f, i) => {
          expect(internetChecksum(f, ETH_HLEN, ETH_HLEN + 20)).toBe(0);
          const fragWord = le.getBE16(f, ETH_HLEN + 6);
          expect((fragWord & 0x1fff) * 8).toBe(i * step);
          expect((fragWord & 0x2000) !== 0).toBe(i < out.frames.length - 1);
          whole.set(f.subarray(ETH_HLEN + 20), ETH_HLEN + 20 + i * step);
        });
        le.setBE16(whole, ETH_HLEN + 2, 20 + l4len);
        le.setBE16(whole, ETH_HLEN + 6, 0);
        expect(whole.subarray(ETH_HLEN + 28)).toEqual(data);
        const loc = locateL4(whole)!;
        expect(loc.protocol).toBe(IPPROTO_UDP);
        // checksum valid over the reassembled datagram
        let sum = pseudoSum(whole, loc);
        for (let i = loc.l4Offset; i < whole.length; i += 2) sum += (whole[i]! << 8) | (whole[i + 1] ?? 0);
        expect(foldSum(sum)).toBe(0xffff);
      }),
      { numRuns: 60 },
    );
  });
});

describe('offload at the switch', () => {
  it('completes offload for a NIC that does not accept it and keeps metadata for one that does', () => {
    const sw = new LearningSwitch();
    const plain = new Collector();
    const rich = new Collector();
    const src = sw.attach({ name: 'src', mac: srcMac, acceptsOffload: true }, new Collector());
    sw.attach({ name: 'plain', mac: dstMac }, plain);
    const richPort = sw.attach({ name: 'rich', mac: dstMac, acceptsOffload: true }, rich);
    const frame = tcpFrame(4, new Uint8Array(4000).fill(7));
    const o = seedPartial(frame);
    o.gsoType = GSO_TCPV4;
    o.gsoSize = 1448;
    src.deliver(frame, o); // unknown destination: flooded
    expect(plain.frames.length).toBe(3);
    expect(plain.frames.every((f) => verifyChecksums(f)?.l4 === true)).toBe(true);
    expect(rich.frames.length).toBe(1);
    expect(rich.offloads[0]).toEqual(o);
    expect(richPort.counters.rxFrames).toBe(1);
  });
});

describe('GSO limits (a guest frame never costs more than GSO_MAX_SEGMENTS frames)', () => {
  const big = (version: 4 | 6) => tcpFrame(version, new Uint8Array(65000).fill(7));

  it('refuses a GSO size below the minimum: a 64 KiB frame at size 1 is a bomb, not 65 000 segments', () => {
    for (const version of [4, 6] as const) {
      const frame = big(version);
      const o = seedPartial(frame);
      o.gsoType = version === 4 ? GSO_TCPV4 : GSO_TCPV6;
      o.gsoSize = 1;
      const out = new Collector();
      const engine = new SoftwareOffload();
      expect(engine.process(frame, o, out)).toBe(false);
      expect(out.frames.length).toBe(0);
      expect(engine.stats).toMatchObject({ errors: 1, gsoRefused: 1, segments: 0 });
      expect(engine.lastError).toMatch(/GSO size 1 is below the minimum 88/);
    }
    const udp = buildUdpFrame({ srcMac, dstMac, srcIp: parseIpv4('192.0.2.1'), dstIp: parseIpv4('192.0.2.2'), srcPort: 9, dstPort: 7, data: new Uint8Array(60000) });
    const o = seedPartial(udp);
    o.gsoType = GSO_UDP;
    o.gsoSize = 8;
    const out = new Collector();
    expect(new SoftwareOffload().process(udp, o, out)).toBe(false);
    expect(out.frames.length).toBe(0);
  });

  it('refuses a frame that would be more than GSO_MAX_SEGMENTS segments, takes one of exactly that many', () => {
    const engine = new SoftwareOffload();
    const frame = big(4); // 65000 payload bytes
    const o = seedPartial(frame);
    o.gsoType = GSO_TCPV4;
    o.gsoSize = 500; // 130 segments
    const out = new Collector();
    expect(engine.process(frame, o, out)).toBe(false);
    expect(out.frames.length).toBe(0);
    expect(engine.lastError).toMatch(/more than 128/);
    const exact = tcpFrame(4, new Uint8Array(GSO_MAX_SEGMENTS * GSO_MIN_SIZE).fill(1));
    const oe = seedPartial(exact);
    oe.gsoType = GSO_TCPV4;
    oe.gsoSize = GSO_MIN_SIZE;
    expect(engine.process(exact, oe, out)).toBe(true);
    expect(out.frames.length).toBe(GSO_MAX_SEGMENTS);
    expect(engine.stats.gsoRefused).toBe(1);
  });

  it("admits a 64 KiB frame at the IPv4 default MSS 536, and gsoRefusal bounds the engine's real count", () => {
    expect(gsoRefusal(14 + 20 + 20 + 65495, GSO_TCPV4, 536)).toBeUndefined();
    expect(gsoRefusal(100, GSO_NONE, 0)).toBeUndefined();
    expect(gsoRefusal(100, GSO_TCPV4, 0)).toMatch(/below the minimum/);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20000 }), fc.integer({ min: GSO_MIN_SIZE, max: 1460 }), fc.constantFrom<4 | 6>(4, 6), (n, mss, version) => {
        const frame = tcpFrame(version, new Uint8Array(n));
        const o = seedPartial(frame);
        o.gsoType = version === 4 ? GSO_TCPV4 : GSO_TCPV6;
        o.gsoSize = mss;
        const out = new Collector();
        const ok = new SoftwareOffload().process(frame, o, out);
        expect(ok).toBe(gsoRefusal(frame.length, o.gsoType, mss) === undefined);
        expect(out.frames.length).toBeLessThanOrEqual(GSO_MAX_SEGMENTS);
      }),
      { numRuns: 100 },
    );
  });

  it('a switch port that takes plain frames gets none of a GSO bomb, and the drop is counted', () => {
    const sw = new LearningSwitch();
    const got: Uint8Array[] = [];
    const a = sw.attach({ name: 'a', mac: srcMac, acceptsOffload: true }, { deliver: () => true });
    const b = sw.attach({ name: 'b', mac: dstMac, acceptsOffload: false }, { deliver: (f) => (got.push(f.slice()), true) });
    const frame = big(4);
    const o = seedPartial(frame);
    o.gsoType = GSO_TCPV4;
    o.gsoSize = 1;
    a.deliver(frame, o);
    expect(got.length).toBe(0);
    expect(b.counters.drops).toBe(1);
    expect(sw.offload.stats.gsoRefused).toBe(1);
  });
});
