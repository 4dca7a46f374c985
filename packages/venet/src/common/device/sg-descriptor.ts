/**
 * The venet scatter-gather descriptor, parsed and checked as a pure function over a private copy
 * (rust-vmm's desc/ does the same for virtio chains): the device copies the descriptor out of
 * shared memory first, so the guest cannot change a value after it was checked, then this module
 * reads only the copy. Every rule broken throws through `violation`, naming the value and the rule.
 */
import { le, type GuestMemory } from '@vbus/core';
import { GSO_NONE, type FrameOffload } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import { venetGsoToFrame } from '../abi/venet-gso.js';

/** Largest SG descriptor: the header and VENET_SG_MAX_IOV iov entries. */
export const VENET_SG_MAX_DESC = abi.venetSgSize(abi.VENET_SG_MAX_IOV);

/** What the checks need to know of the connection. */
export interface SgLimits {
  /** Largest plain frame (MTU + Ethernet overhead). */
  maxPlain: number;
  /** Negotiated SG group bits. */
  sgCaps: number;
  /** Guest memory the iov entries must lie in. */
  memory: GuestMemory;
}

/** A checked descriptor: the fields the tx path uses (one object, reused per frame). */
export interface SgFrame {
  cookie: number;
  count: number;
  /** Frame length (the sum of the iov lengths). */
  total: number;
  /** Offload metadata, when flags asked for any. */
  offload: FrameOffload | undefined;
}

/** A fresh {@link SgFrame} to pass to {@link checkSgDescriptor} again and again. */
export function newSgFrame(): SgFrame {
  return { cookie: 0, count: 0, total: 0, offload: undefined };
}

/**
 * Check the descriptor in `sg` (a private copy, `len` bytes valid) and fill `out`. Throws what
 * `violation(value, rule)` returns on the first broken rule.
 */
export function checkSgDescriptor(sg: Uint8Array, len: number, limits: SgLimits, violation: (value: number | bigint, rule: string) => Error, out: SgFrame): SgFrame {
  const count = le.getU32(sg, abi.VENET_SG_OFF_COUNT);
  if (count < 1 || count > abi.VENET_SG_MAX_IOV) throw violation(count, `SG count must be in [1, ${abi.VENET_SG_MAX_IOV}]`);
  if (abi.venetSgSize(count) > len) throw violation(count, `SG count ${count} needs ${abi.venetSgSize(count)} bytes but the descriptor length is ${len}`);
  const cookie = le.getU64(sg, abi.VENET_SG_OFF_COOKIE);
  const flags = le.getU32(sg, abi.VENET_SG_OFF_FLAGS);
  if ((flags & ~abi.VENET_SG_FLAGS_ALL) !== 0) throw violation(flags, `SG flags may only contain bits 0x${abi.VENET_SG_FLAGS_ALL.toString(16)}`);
  const gso = (flags & abi.VENET_SG_FLAG_GSO) !== 0;
  const total = le.getU32(sg, abi.VENET_SG_OFF_LEN);
  const maxFrame = gso ? abi.VENET_MAX_GSO_FRAME : limits.maxPlain;
  if (total < 14 || total > maxFrame) throw violation(total, `SG frame length must be in [14, ${maxFrame}]`);
  let sum = 0;
  for (let k = 0; k < count; k++) {
    const o = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
    const ilen = le.getU32(sg, o + abi.VENET_IOV_OFF_LEN);
    const iptr = le.getU64(sg, o + abi.VENET_IOV_OFF_PTR);
    if (ilen > total - sum) throw violation(ilen, `SG iov ${k}: lengths add up to more than the frame length ${total}`);
    if (!limits.memory.contains(iptr, ilen)) throw violation(iptr, `SG iov ${k} at 0x${iptr.toString(16)}+${ilen} is outside guest memory`);
    sum += ilen;
  }
  if (sum !== total) throw violation(sum, `SG iov lengths add up to ${sum}, not the frame length ${total}`);
  out.cookie = cookie;
  out.count = count;
  out.total = total;
  out.offload = flags !== 0 ? offloadOf(sg, flags, total, limits.sgCaps, violation) : undefined;
  return out;
}

/** Gather the checked descriptor's iov entries into `into` (at least `frame.total` bytes long). */
export function gatherSg(sg: Uint8Array, frame: SgFrame, memory: GuestMemory, into: Uint8Array): Uint8Array {
  let at = 0;
  for (let k = 0; k < frame.count; k++) {
    const o = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
    const ilen = le.getU32(sg, o + abi.VENET_IOV_OFF_LEN);
    if (ilen === 0) continue;
    memory.copyOut(le.getU64(sg, o + abi.VENET_IOV_OFF_PTR), into, at, ilen);
    at += ilen;
  }
  return into.subarray(0, frame.total);
}

function offloadOf(sg: Uint8Array, flags: number, total: number, caps: number, violation: (value: number | bigint, rule: string) => Error): FrameOffload {
  const needsCsum = (flags & abi.VENET_SG_FLAG_NEEDS_CSUM) !== 0;
  const csumStart = le.getU16(sg, abi.VENET_SG_OFF_CSUM_START);
  const csumOffset = le.getU16(sg, abi.VENET_SG_OFF_CSUM_OFFSET);
  if (needsCsum && csumStart + csumOffset + 2 > total) throw violation(csumStart + csumOffset, `SG checksum at ${csumStart}+${csumOffset} lies past the frame length ${total}`);
  let gsoType = GSO_NONE;
  let gsoSize = 0;
  let hdrLen = 0;
  const ecn = (flags & abi.VENET_SG_FLAG_ECN) !== 0;
  if ((flags & abi.VENET_SG_FLAG_GSO) !== 0) {
    const t = sg[abi.VENET_SG_OFF_GSO_TYPE]!;
    const need = t === abi.VENET_GSO_TYPE_TCPV4 ? abi.VENET_CAP_TSO4 : t === abi.VENET_GSO_TYPE_TCPV6 ? abi.VENET_CAP_TSO6 : t === abi.VENET_GSO_TYPE_UDP ? abi.VENET_CAP_UFO : 0;
    if (need === 0) throw violation(t, 'SG gso.type must be TCPV4 0, UDP 1 or TCPV6 2');
    if ((caps & need) === 0) throw violation(t, `SG gso.type ${t} used without negotiating its capability (0x${need.toString(16)})`);
    if (ecn && (caps & abi.VENET_CAP_ECN) === 0) throw violation(flags, 'SG ECN flag used without negotiating ECN');
    gsoType = venetGsoToFrame(t);
    gsoSize = le.getU16(sg, abi.VENET_SG_OFF_GSO_SIZE);
    hdrLen = le.getU16(sg, abi.VENET_SG_OFF_GSO_HDRLEN);
    if (gsoSize === 0 || hdrLen > total) throw violation(gsoSize, `SG gso.size must be > 0 and gso.hdrlen (${hdrLen}) within the frame (${total})`);
  } else if (ecn) throw violation(flags, 'SG ECN flag is only valid with GSO');
  return { needsCsum, csumStart, csumOffset, gsoType, gsoSize, hdrLen, ecn };
}
