import { describe, expect, it } from 'vitest';
import { le } from '@vbus/core';
import { encodePcapGlobalHeader, encodePcapRecord, PCAP_MAGIC, PcapTap, tapSink } from './pcap.js';

describe('pcap encoding', () => {
  it('writes the global header: magic a1b2c3d4, 2.4, snaplen 65535, linktype 1', () => {
    const h = encodePcapGlobalHeader();
    expect(h.length).toBe(24);
    expect(le.getU32(h, 0)).toBe(PCAP_MAGIC);
    expect([...h.subarray(0, 4)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
    expect(le.getU16(h, 4)).toBe(2);
    expect(le.getU16(h, 6)).toBe(4);
    expect(le.getU32(h, 16)).toBe(65535);
    expect(le.getU32(h, 20)).toBe(1);
  });

  it('writes record headers with seconds, microseconds, incl_len and orig_len', () => {
    const r = encodePcapRecord(new Uint8Array(100).fill(3), 1_700_000_000_123.456, 64);
    expect(le.getU32(r, 0)).toBe(1_700_000_000);
    expect(le.getU32(r, 4)).toBe(123_456);
    expect(le.getU32(r, 8)).toBe(64);
    expect(le.getU32(r, 12)).toBe(100);
    expect(r.length).toBe(16 + 64);
    const carry = encodePcapRecord(new Uint8Array(1), 1999.9999);
    expect([le.getU32(carry, 0), le.getU32(carry, 4)]).toEqual([2, 0]);
  });

  it('a tap passes frames on to the inner sink and returns its answer', () => {
    const chunks: Uint8Array[] = [];
    let accept = true;
    const tap = new PcapTap((b) => chunks.push(b), { inner: { deliver: () => accept }, clock: { now: () => 0 } });
    expect(tap.deliver(new Uint8Array(60))).toBe(true);
    accept = false;
    expect(tap.deliver(new Uint8Array(60))).toBe(false);
    expect(tap.records).toBe(2);
    expect(chunks.length).toBe(3);
    const wrapped = tapSink({ deliver: () => true }, new PcapTap(() => undefined));
    expect(wrapped.deliver(new Uint8Array(14))).toBe(true);
  });
});
