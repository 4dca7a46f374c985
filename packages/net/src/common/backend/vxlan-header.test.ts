import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeVxlanHeader,
  encodeVxlanHeader,
  VXLAN_FLAG_I,
  VXLAN_FLAGS_OFFSET,
  VXLAN_FLAGS_SIZE,
  VXLAN_HLEN,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_OVERHEAD_IPV6,
  VXLAN_PORT,
  VXLAN_RESERVED1_OFFSET,
  VXLAN_RESERVED1_SIZE,
  VXLAN_RESERVED2_OFFSET,
  VXLAN_RESERVED2_SIZE,
  VXLAN_VNI_MAX,
  VXLAN_VNI_OFFSET,
  VXLAN_VNI_SIZE,
} from './vxlan-header.js';

describe('VXLAN header (RFC 7348 section 5)', () => {
  it('pins the layout: 8 bytes, flags u8 @0, reserved u24 @1, VNI u24 @4, reserved u8 @7; I flag 0x08; port 4789', () => {
    expect(VXLAN_HLEN).toBe(8);
    expect([VXLAN_FLAGS_OFFSET, VXLAN_FLAGS_SIZE]).toEqual([0, 1]);
    expect([VXLAN_RESERVED1_OFFSET, VXLAN_RESERVED1_SIZE]).toEqual([1, 3]);
    expect([VXLAN_VNI_OFFSET, VXLAN_VNI_SIZE]).toEqual([4, 3]);
    expect([VXLAN_RESERVED2_OFFSET, VXLAN_RESERVED2_SIZE]).toEqual([7, 1]);
    expect(VXLAN_FLAGS_SIZE + VXLAN_RESERVED1_SIZE + VXLAN_VNI_SIZE + VXLAN_RESERVED2_SIZE).toBe(VXLAN_HLEN);
    expect(VXLAN_FLAG_I).toBe(0x08);
    expect(VXLAN_PORT).toBe(4789);
    expect(VXLAN_VNI_MAX).toBe(0xffffff);
    expect(VXLAN_OVERHEAD_IPV4).toBe(50);
    expect(VXLAN_OVERHEAD_IPV6).toBe(70);
  });

  it('encodes the bytes the RFC shows (VNI 0x123456) and decodes them back', () => {
    const b = new Uint8Array(10).fill(0xee);
    encodeVxlanHeader(b, 1, 0x123456);
    expect(Array.from(b)).toEqual([0xee, 0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xee]);
    expect(decodeVxlanHeader(b.subarray(1))).toEqual({ vni: 0x123456 });
    // the bytes Linux sends for `type vxlan id 42`
    expect(decodeVxlanHeader(new Uint8Array([0x08, 0, 0, 0, 0, 0, 42, 0]))).toEqual({ vni: 42 });
  });

  it('refuses a short datagram, a clear I flag, and any reserved bit set, without reading past the end', () => {
    for (let n = 0; n < VXLAN_HLEN; n++) expect(decodeVxlanHeader(new Uint8Array(n).fill(0x08))).toEqual({ problem: 'runt' });
    expect(decodeVxlanHeader(new Uint8Array(8))).toEqual({ problem: 'flags' });
    expect(decodeVxlanHeader(new Uint8Array([0x80, 0, 0, 0, 0, 0, 1, 0]))).toEqual({ problem: 'flags' });
    for (const i of [0, 1, 2, 3, 7]) {
      const b = new Uint8Array([0x08, 0, 0, 0, 0, 0, 1, 0]);
      b[i] = i === 0 ? 0x0c : 1;
      expect(decodeVxlanHeader(b), `byte ${i}`).toEqual({ problem: 'reserved' });
    }
  });

  it('refuses VNIs outside 24 bits and headers that do not fit', () => {
    expect(() => encodeVxlanHeader(new Uint8Array(8), 0, VXLAN_VNI_MAX + 1)).toThrow(/VNI must be an integer 0\.\.16777215, got 16777216/);
    expect(() => encodeVxlanHeader(new Uint8Array(8), 0, -1)).toThrow(RangeError);
    expect(() => encodeVxlanHeader(new Uint8Array(8), 1, 1)).toThrow(/no room/);
  });

  it('property: every VNI round-trips; decoding arbitrary bytes never throws', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: VXLAN_VNI_MAX }), (vni) => {
        const b = new Uint8Array(VXLAN_HLEN);
        encodeVxlanHeader(b, 0, vni);
        expect(decodeVxlanHeader(b)).toEqual({ vni });
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (bytes) => {
        const r = decodeVxlanHeader(bytes);
        expect('vni' in r || 'problem' in r).toBe(true);
      }),
    );
  });
});
