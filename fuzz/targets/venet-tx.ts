/**
 * Target "venet-tx": venet transmit descriptors, plain (ptr/len straight to a frame), SG
 * (ptr/len to a scatter-gather descriptor with iov[]) and pre-mapped (SG descriptors inside the
 * PMTD pool). Each descriptor starts valid (a frame split over up to four iovs) and then takes
 * zero or more field mutations. Oracle: a valid batch is sent byte for byte; a corrupted one
 * either goes out as frames the ABI allows or fails venet0 with a RingError naming venet0.tx.
 */
import fc from 'fast-check';
import { IOQ_IDX_TAIL, IoqIndex, le } from '@vbus/core';
import {
  VENET_CAP_ECN,
  VENET_CAP_PMTD,
  VENET_CAP_SG,
  VENET_CAP_TSO4,
  VENET_CAP_TSO6,
  VENET_CAP_UFO,
  VENET_IOV_OFF_LEN,
  VENET_IOV_OFF_PTR,
  VENET_IOV_SIZE,
  VENET_MAX_GSO_FRAME,
  VENET_SG_OFF_COOKIE,
  VENET_SG_OFF_COUNT,
  VENET_SG_OFF_CSUM_OFFSET,
  VENET_SG_OFF_CSUM_START,
  VENET_SG_OFF_FLAGS,
  VENET_SG_OFF_GSO_HDRLEN,
  VENET_SG_OFF_GSO_SIZE,
  VENET_SG_OFF_GSO_TYPE,
  VENET_SG_OFF_IOV,
  VENET_SG_OFF_LEN,
  venetSgSize,
  type VenetDevice,
} from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { check, checkMemory, checkNamedError, checkNoEscapes, settleQuiet, tolerate } from '../oracle.js';
import { checkHealthy, dropBus, frame, freshBus, openHealthy, openRawVenet, type RawVenetGuest } from '../harness/venet.js';
import { target, type Outcome } from '../target.js';
import { address, setU64, u16, u32 } from '../values.js';

export type SgMutation =
  | { f: 'count' | 'len' | 'flags' | 'descLen'; v: number }
  | { f: 'csumStart' | 'csumOffset' | 'hdrLen' | 'gsoSize'; v: number }
  | { f: 'gsoType'; v: number }
  | { f: 'iovLen'; i: number; v: number }
  | { f: 'iovPtr' | 'descPtr'; i: number; v: string };

export interface TxDesc {
  /** Frame length before mutations. */
  total: number;
  /** iov count before mutations (SG). */
  k: number;
  mutations: SgMutation[];
}

export interface VenetTxCase {
  mode: 'plain' | 'sg' | 'pmtd';
  /** Extra SG-group bits requested (TSO4, TSO6, ECN, UFO). */
  offloads: number;
  descs: TxDesc[];
}

const mutation: fc.Arbitrary<SgMutation> = fc.oneof(
  fc.record({ f: fc.constantFrom('count' as const, 'len' as const, 'flags' as const, 'descLen' as const), v: u32([64, 65, 1024 + 32, 1040]) }),
  fc.record({ f: fc.constantFrom('csumStart' as const, 'csumOffset' as const, 'hdrLen' as const, 'gsoSize' as const), v: u16([14, 34, 54, 1500]) }),
  fc.record({ f: fc.constant('gsoType' as const), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ f: fc.constant('iovLen' as const), i: fc.nat({ max: 5 }), v: u32() }),
  fc.record({ f: fc.constantFrom('iovPtr' as const, 'descPtr' as const), i: fc.nat({ max: 5 }), v: address() }),
);

export const venetTxArbitrary: fc.Arbitrary<VenetTxCase> = fc.record({
  mode: fc.constantFrom('plain' as const, 'sg' as const, 'pmtd' as const),
  offloads: fc.subarray([VENET_CAP_TSO4, VENET_CAP_TSO6, VENET_CAP_ECN, VENET_CAP_UFO]).map((a) => a.reduce((s, b) => s | b, 0)),
  descs: fc.array(
    fc.record({
      total: fc.integer({ min: 14, max: 1518 }),
      k: fc.integer({ min: 1, max: 4 }),
      mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as SgMutation[]) }, { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

/** Lay out descriptor `i` in guest memory; returns the ring's (ptr, len) and the expected frame. */
function layout(g: RawVenetGuest, c: VenetTxCase, d: TxDesc, i: number): { ptr: number | string; len: number | string; expect: Uint8Array } {
  const bytes = frame(i, Math.max(14, d.total)).subarray(0, d.total);
  for (let b = 15; b < d.total; b++) bytes[b] = (b * 7 + i) & 0xff;
  const buf = g.txBuffers[i]!;
  g.raw.view(buf, d.total).set(bytes);
  if (c.mode === 'plain') {
    let ptr: number | string = buf;
    let len: number | string = d.total;
    for (const m of d.mutations) {
      if (m.f === 'len' || m.f === 'descLen') len = m.v;
      if (m.f === 'iovPtr' || m.f === 'descPtr') ptr = m.v;
    }
    return { ptr, len, expect: bytes };
  }
  // SG: the descriptor lives in the pool (pmtd) or next to the buffer
  const size = venetSgSize(6);
  const at = c.mode === 'pmtd' ? g.pool!.address + i * size : buf + 1536;
  const sg = g.raw.view(at, size);
  sg.fill(0);
  setU64(sg, VENET_SG_OFF_COOKIE, 1000 + i);
  le.setU32(sg, VENET_SG_OFF_LEN, d.total);
  le.setU32(sg, VENET_SG_OFF_COUNT, d.k);
  let off = 0;
  for (let j = 0; j < d.k; j++) {
    const part = j === d.k - 1 ? d.total - off : Math.floor(d.total / d.k);
    le.setU32(sg, VENET_SG_OFF_IOV + j * VENET_IOV_SIZE + VENET_IOV_OFF_LEN, part);
    setU64(sg, VENET_SG_OFF_IOV + j * VENET_IOV_SIZE + VENET_IOV_OFF_PTR, buf + off);
    off += part;
  }
  let ptr: number | string = at;
  let len: number | string = venetSgSize(d.k);
  for (const m of d.mutations) {
    switch (m.f) {
      case 'count':
        le.setU32(sg, VENET_SG_OFF_COUNT, m.v >>> 0);
        break;
      case 'len':
        le.setU32(sg, VENET_SG_OFF_LEN, m.v >>> 0);
        break;
      case 'flags':
        le.setU32(sg, VENET_SG_OFF_FLAGS, m.v >>> 0);
        break;
      case 'descLen':
        len = m.v;
        break;
      case 'csumStart':
        le.setU16(sg, VENET_SG_OFF_CSUM_START, m.v & 0xffff);
        break;
      case 'csumOffset':
        le.setU16(sg, VENET_SG_OFF_CSUM_OFFSET, m.v & 0xffff);
        break;
      case 'hdrLen':
        le.setU16(sg, VENET_SG_OFF_GSO_HDRLEN, m.v & 0xffff);
        break;
      case 'gsoSize':
        le.setU16(sg, VENET_SG_OFF_GSO_SIZE, m.v & 0xffff);
        break;
      case 'gsoType':
        sg[VENET_SG_OFF_GSO_TYPE] = m.v;
        break;
      case 'iovLen':
        le.setU32(sg, VENET_SG_OFF_IOV + (m.i % 6) * VENET_IOV_SIZE + VENET_IOV_OFF_LEN, m.v >>> 0);
        break;
      case 'iovPtr':
        setU64(sg, VENET_SG_OFF_IOV + (m.i % 6) * VENET_IOV_SIZE + VENET_IOV_OFF_PTR, m.v);
        break;
      case 'descPtr':
        ptr = m.v;
        break;
    }
  }
  return { ptr, len, expect: bytes };
}

export async function runVenetTx(c: VenetTxCase): Promise<Outcome> {
  const bus = freshBus();
  const where = `venet-tx(${c.mode})`;
  try {
    const evil = new CaptureBackend();
    bus.createDevice('virtual-ethernet', 'venet0', { backend: evil, ringSize: 8 });
    const healthy = await openHealthy(bus, 'venet1');
    const sg = c.mode === 'plain' ? 0 : VENET_CAP_SG | c.offloads | (c.mode === 'pmtd' ? VENET_CAP_PMTD : 0);
    const g = await openRawVenet(bus, 'venet0', { sg, pmtd: c.mode === 'pmtd', ringSize: 8 });
    const expected: Uint8Array[] = [];
    for (const [i, d] of c.descs.entries()) {
      const { ptr, len, expect } = layout(g, c, d, i);
      expected.push(expect);
      // post through the real driver end, then write the raw (possibly > 2^53) ptr/len
      const slot = g.tx.ioq.readIndex(IoqIndex.Valid, IOQ_IDX_TAIL);
      g.tx.post(0, 0, i);
      const desc = g.tx.ioq.descOffset(slot);
      setU64(g.tx.ioq.bytes, desc + 8, ptr);
      setU64(g.tx.ioq.bytes, desc + 16, len);
    }
    g.tx.kick();
    await settleQuiet([g.mem], where);
    checkMemory(g.mem, where);
    checkNoEscapes(where);
    let outcome: Outcome;
    const st = bus.status('venet0');
    if (st.state === 'failed') {
      checkNamedError(st.error, /ring venet0\.tx/, where);
      outcome = 'failed';
    } else {
      const dev = bus.device<VenetDevice>('venet0');
      const sent = evil.frames.length;
      check(sent + dev.stats.tx.drops === c.descs.length, `${where}: ${c.descs.length} descriptors posted, ${sent} sent + ${dev.stats.tx.drops} dropped`);
      // plain frames and SG frames without GSO are at most MTU + 18; only a GSO frame may be larger
      const max = c.mode !== 'plain' && (c.offloads & (VENET_CAP_TSO4 | VENET_CAP_TSO6 | VENET_CAP_UFO)) !== 0 ? VENET_MAX_GSO_FRAME : 1518;
      for (const f of evil.frames) {
        check(f.frame.length >= 14 && f.frame.length <= max, `${where}: a ${f.frame.length}-byte frame left the device`);
        check(f.frame.length <= 1518 || (f.offload?.gsoType ?? 0) !== 0, `${where}: a ${f.frame.length}-byte frame without GSO left the device`);
      }
      if (c.descs.every((d) => d.mutations.length === 0)) {
        check(sent === c.descs.length, `${where}: a valid batch of ${c.descs.length} sent only ${sent}`);
        evil.frames.forEach((f, i) => check(Buffer.compare(f.frame, expected[i]!) === 0, `${where}: frame ${i} differs from what the guest posted`));
      }
      outcome = 'progress';
    }
    await tolerate(`${where} close`, () => g.conn.close());
    await checkHealthy(bus, 'venet1', healthy, where);
    checkMemory(healthy.mem, where);
    return outcome;
  } finally {
    dropBus(bus);
  }
}

export const venetTxTarget = target<VenetTxCase>({
  name: 'venet-tx',
  description: 'venet TX descriptors: plain, scatter-gather and pre-mapped (PMTD), nearly valid then mutated',
  arbitrary: () => venetTxArbitrary,
  run: runVenetTx,
});
