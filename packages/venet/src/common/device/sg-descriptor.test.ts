import { describe, expect, it } from 'vitest';
import { RegionMemory, le } from '@vbus/core';
import { GSO_TCPV4 } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import { checkSgDescriptor, gatherSg, newSgFrame, type SgLimits } from './sg-descriptor.js';

const BASE = 0x10000;
const memory = RegionMemory.create(BASE, 0x10000);
const violation = (value: number | bigint, rule: string) => new Error(`${value}: ${rule}`);
const limits = (sgCaps = abi.VENET_CAP_SG): SgLimits => ({ maxPlain: 1518, sgCaps, memory });

/** A descriptor of `parts` (lengths) laid out back to back at BASE. */
function descriptor(parts: number[], patch?: (sg: Uint8Array) => void): Uint8Array {
  const sg = new Uint8Array(abi.venetSgSize(parts.length));
  le.setU64(sg, abi.VENET_SG_OFF_COOKIE, 77);
  le.setU32(
    sg,
    abi.VENET_SG_OFF_LEN,
    parts.reduce((a, b) => a + b, 0),
  );
  le.setU32(sg, abi.VENET_SG_OFF_COUNT, parts.length);
  let at = BASE;
  parts.forEach((len, k) => {
    const o = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
    le.setU32(sg, o + abi.VENET_IOV_OFF_LEN, len);
    le.setU64(sg, o + abi.VENET_IOV_OFF_PTR, at);
    at += len;
  });
  patch?.(sg);
  return sg;
}

describe('SG descriptor check (pure, over a private copy)', () => {
  it('accepts a valid descriptor and gathers its parts in order', () => {
    const bytes = Uint8Array.from({ length: 60 }, (_, i) => i);
    memory.copyIn(BASE, bytes, 0, 60);
    const sg = descriptor([20, 40]);
    const f = checkSgDescriptor(sg, sg.length, limits(), violation, newSgFrame());
    expect([f.cookie, f.count, f.total, f.offload]).toEqual([77, 2, 60, undefined]);
    expect([...gatherSg(sg, f, memory, new Uint8Array(2048))]).toEqual([...bytes]);
  });

  it('refuses, naming the rule: a bad count, iov lengths that do not add up, iov outside memory, GSO not negotiated', () => {
    const cases: Array<[Uint8Array, RegExp, number?]> = [
      [descriptor([60], (sg) => le.setU32(sg, abi.VENET_SG_OFF_COUNT, 0)), /SG count must be/],
      [descriptor([20, 40], (sg) => le.setU32(sg, abi.VENET_SG_OFF_LEN, 61)), /add up to 60, not the frame length 61/],
      [descriptor([60], (sg) => le.setU64(sg, abi.VENET_SG_OFF_IOV + abi.VENET_IOV_OFF_PTR, 0x100)), /outside guest memory/],
      [descriptor([60], (sg) => le.setU32(sg, abi.VENET_SG_OFF_FLAGS, abi.VENET_SG_FLAG_GSO)), /without negotiating/],
    ];
    for (const [sg, rule] of cases) expect(() => checkSgDescriptor(sg, sg.length, limits(), violation, newSgFrame())).toThrow(rule);
  });

  it("maps a negotiated TSO4 request to the frames' GSO numbering", () => {
    const sg = descriptor([60], (d) => {
      le.setU32(d, abi.VENET_SG_OFF_FLAGS, abi.VENET_SG_FLAG_GSO);
      d[abi.VENET_SG_OFF_GSO_TYPE] = abi.VENET_GSO_TYPE_TCPV4;
      le.setU16(d, abi.VENET_SG_OFF_GSO_SIZE, 1448);
      le.setU16(d, abi.VENET_SG_OFF_GSO_HDRLEN, 54);
    });
    const f = checkSgDescriptor(sg, sg.length, limits(abi.VENET_CAP_SG | abi.VENET_CAP_TSO4), violation, newSgFrame());
    expect(f.offload).toMatchObject({ gsoType: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: false });
  });
});
