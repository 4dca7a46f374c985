import { le, type GuestMemory } from '@vbus/core';
import { GSO_NONE, type FrameOffload } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import { frameGsoToVenet } from '../abi/venet-gso.js';

/**
 * Fill one tx slot for a scatter-gather send (venet ABI, VENET_CAP_SG): copy the parts back to
 * back into the slot's buffer at `buf` and describe each by its own iov entry in the slot's SG
 * descriptor `sg` (a view made once per slot), after a header with the cookie, the total length,
 * the segment count and the offload metadata. The caller checked the part count against the
 * descriptor's room and `total` against the buffer; nothing is allocated.
 */
export function writeVenetTxSg(
  mem: GuestMemory,
  sg: Uint8Array,
  cookie: number,
  buf: number,
  parts: readonly Uint8Array[],
  total: number,
  offload: Partial<FrameOffload> | undefined,
): void {
  const count = parts.length;
  sg.fill(0, 0, abi.VENET_SG_HEADER_SIZE);
  le.setU64(sg, abi.VENET_SG_OFF_COOKIE, cookie);
  le.setU32(sg, abi.VENET_SG_OFF_LEN, total);
  le.setU32(sg, abi.VENET_SG_OFF_COUNT, count);
  const o = offload;
  if (o) {
    let flags = 0;
    if (o.needsCsum) {
      flags |= abi.VENET_SG_FLAG_NEEDS_CSUM;
      le.setU16(sg, abi.VENET_SG_OFF_CSUM_START, o.csumStart ?? 0);
      le.setU16(sg, abi.VENET_SG_OFF_CSUM_OFFSET, o.csumOffset ?? 0);
    }
    if (o.gsoType !== undefined && o.gsoType !== GSO_NONE) {
      flags |= abi.VENET_SG_FLAG_GSO;
      sg[abi.VENET_SG_OFF_GSO_TYPE] = frameGsoToVenet(o.gsoType);
      le.setU16(sg, abi.VENET_SG_OFF_GSO_HDRLEN, o.hdrLen ?? 0);
      le.setU16(sg, abi.VENET_SG_OFF_GSO_SIZE, o.gsoSize ?? 0);
      if (o.ecn) flags |= abi.VENET_SG_FLAG_ECN;
    }
    le.setU32(sg, abi.VENET_SG_OFF_FLAGS, flags);
  }
  let at = 0;
  for (let k = 0; k < count; k++) {
    const p = parts[k]!;
    mem.copyIn(buf + at, p, 0, p.length);
    const io = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
    le.setU32(sg, io + abi.VENET_IOV_OFF_LEN, p.length);
    le.setU32(sg, io + 4, 0);
    le.setU64(sg, io + abi.VENET_IOV_OFF_PTR, buf + at);
    at += p.length;
  }
}
