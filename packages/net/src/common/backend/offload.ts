/**
 * Software offload: turn a frame that carries offload metadata (a pending checksum, a GSO
 * super-frame) into plain, complete Ethernet frames, for destinations that take only those
 * (sockets to QEMU, pcap, a NIC that did not negotiate offloads). The semantics are Linux's and
 * virtio-net's:
 *
 * - NEEDS_CSUM: the sender stored the folded (not inverted) pseudo-header sum in the checksum
 *   field; the ones'-complement sum from `csumStart` to the end of the frame, inverted, goes to
 *   `csumStart + csumOffset`.
 * - GSO TCPV4/TCPV6: split the TCP payload into `gsoSize` pieces; each segment gets the headers
 *   with fixed-up IP length (and IPv4 id + i, header checksum), TCP sequence number, flags (FIN
 *   and PSH only on the last segment, CWR only on the first) and a full TCP checksum.
 * - GSO UDP (UFO): compute the UDP checksum over the whole datagram, then split the IPv4 payload
 *   into fragments of `gsoSize` bytes rounded down to a multiple of 8.
 * - Limits (gso-limits.ts): a GSO size below GSO_MIN_SIZE, or a frame that would become more than
 *   GSO_MAX_SEGMENTS frames, is refused (counted in `stats.gsoRefused` and `stats.errors`).
 *
 * The input frame is never written (it may be a view into guest memory). Output frames are built
 * in a scratch buffer that is reused, so they are valid only during the sink's `deliver` call,
 * like every frame. All lengths and offsets come from an untrusted guest: they are checked, and a
 * bad frame is refused (counted in `stats.errors`, reason in `lastError`), never thrown.
 */
import { le } from '@vbus/core';
import type { FrameOffload, FrameSink } from './net-backend.js';
import { gsoRefusal } from './gso-limits.js';
import { IPPROTO_TCP, IPPROTO_UDP, TCP_CWR, TCP_FIN, TCP_HLEN, TCP_PSH, UDP_HLEN, internetChecksum, locateL4, pseudoSum } from '../packet/index.js';

/** virtio-net GSO types (the virtio-net header's numbering: NONE 0, TCPV4 1, UDP 3, TCPV6 4, ECN flag 0x80). */
export const GSO_NONE = 0;
/** GSO type: TCP over IPv4 (virtio-net header numbering). */
export const GSO_TCPV4 = 1;
/** GSO type: UDP fragmentation offload (virtio-net header numbering). */
export const GSO_UDP = 3;
/** GSO type: TCP over IPv6 (virtio-net header numbering). */
export const GSO_TCPV6 = 4;
/** GSO flag: the segments carry ECN (virtio-net header numbering). */
export const GSO_ECN = 0x80;

/** The largest frame the engine accepts: a 64 KiB IP packet plus link headers (QEMU's 4096+65536). */
export const MAX_OFFLOAD_FRAME = 4096 + 65536;

/** Whether a frame with this metadata needs software work before it can go to a plain sink. */
export function needsSoftwareOffload(offload: FrameOffload | undefined): boolean {
  return offload !== undefined && (offload.needsCsum || (offload.gsoType & 0x7f) !== GSO_NONE);
}

/**
 * Complete a pending checksum in place: sum [csumStart, end of frame) (the field holds the
 * folded pseudo-header sum) and store the inverted result at csumStart+csumOffset. Returns false
 * (and leaves the frame unchanged) if the field does not lie inside the frame.
 */
export function completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): boolean {
  const at = csumStart + csumOffset;
  if (!Number.isInteger(at) || csumStart < 0 || csumOffset < 0 || at + 2 > frame.length) return false;
  le.setBE16(frame, at, internetChecksum(frame, csumStart, frame.length));
  return true;
}

/** What the engine did, for introspection. */
export interface OffloadStats {
  /** Frames whose pending checksum was completed (no segmentation). */
  checksums: number;
  /** GSO super-frames split, and the segments (or fragments) they produced. */
  segmented: number;
  segments: number;
  /** Frames refused because their metadata did not fit the frame (GSO limits included). */
  errors: number;
  /** Of those: GSO frames over the limits of gso-limits.ts (size below the minimum, too many segments). */
  gsoRefused: number;
}

/** Turns offloaded frames into plain frames. One engine per backend; not shared across threads. */
export class SoftwareOffload {
  readonly stats: OffloadStats = { checksums: 0, segmented: 0, segments: 0, errors: 0, gsoRefused: 0 };
  /** Why the last refused frame was refused. */
  lastError: string | undefined;
  private scratch = new Uint8Array(2048);
  private busy = false;

  /**
   * Deliver `frame` to `out` as plain frames. Returns true if every frame produced was accepted;
   * false if the frame was refused (see `lastError`) or a sink refused one.
   */
  process(frame: Uint8Array, offload: FrameOffload | undefined, out: FrameSink): boolean {
    if (!needsSoftwareOffload(offload)) return out.deliver(frame);
    const o = offload!;
    if (frame.length > MAX_OFFLOAD_FRAME) return this.fail(`frame of ${frame.length} bytes exceeds ${MAX_OFFLOAD_FRAME}`);
    // one frame never becomes more than GSO_MAX_SEGMENTS frames, whichever NIC let it in
    const refusal = gsoRefusal(frame.length, o.gsoType, o.gsoSize);
    if (refusal !== undefined) {
      this.stats.gsoRefused++;
      return this.fail(refusal);
    }
    // A sink may synchronously send a frame that comes back through this engine; the nested call
    // must not overwrite the segment the outer call is delivering, so it gets its own buffer.
    const gso = o.gsoType & 0x7f;
    // UFO keeps the checksummed datagram and builds each fragment after it: twice the room.
    const room = gso === GSO_UDP ? 2 * frame.length : frame.length;
    const nested = this.busy;
    const buf = nested ? new Uint8Array(room) : this.ensure(room);
    this.busy = true;
    try {
      if (gso === GSO_NONE) return this.checksumOnly(frame, o, buf, out);
      if (gso === GSO_TCPV4 || gso === GSO_TCPV6) return this.segmentTcp(frame, o, gso === GSO_TCPV4 ? 4 : 6, buf, out);
      if (gso === GSO_UDP) return this.fragmentUdp(frame, o, buf, out);
      return this.fail(`unknown GSO type ${o.gsoType}`);
    } finally {
      this.busy = nested;
    }
  }

  private ensure(n: number): Uint8Array {
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    return this.scratch;
  }

  private fail(reason: string): boolean {
    this.stats.errors++;
    this.lastError = reason;
    return false;
  }

  private checksumOnly(frame: Uint8Array, o: FrameOffload, buf: Uint8Array, out: FrameSink): boolean {
    const f = buf.subarray(0, frame.length);
    f.set(frame);
    if (!completeChecksum(f, o.csumStart, o.csumOffset)) {
      return this.fail(`checksum field at ${o.csumStart}+${o.csumOffset} outside a frame of ${frame.length} bytes`);
    }
    // UDP: a computed zero is sent as 0xffff (zero means "no checksum").
    const at = o.csumStart + o.csumOffset;
    if (f[at] === 0 && f[at + 1] === 0) {
      const loc = locateL4(f);
      if (loc && loc.protocol === IPPROTO_UDP && loc.l4Offset === o.csumStart) le.setBE16(f, at, 0xffff);
    }
    this.stats.checksums++;
    return out.deliver(f);
  }

  private segmentTcp(frame: Uint8Array, o: FrameOffload, version: 4 | 6, buf: Uint8Array, out: FrameSink): boolean {
    const loc = locateL4(frame);
    if (!loc || loc.ipVersion !== version || loc.protocol !== IPPROTO_TCP) {
      return this.fail(`GSO TCPv${version} on a frame that is not TCP over IPv${version}`);
    }
    const l4 = loc.l4Offset;
    const ipEnd = l4 + loc.l4Length;
    if (loc.l4Length < TCP_HLEN) return this.fail('TCP header truncated');
    const thl = (frame[l4 + 12]! >> 4) * 4;
    if (thl < TCP_HLEN || thl > loc.l4Length) return this.fail(`bad TCP data offset ${thl}`);
    const mss = o.gsoSize;
    if (!Number.isInteger(mss) || mss <= 0) return this.fail(`bad GSO size ${mss}`);
    const hdrEnd = l4 + thl;
    const total = ipEnd - hdrEnd;
    const seq0 = le.getBE32(frame, l4 + 4);
    const flags0 = frame[l4 + 13]!;
    const ihl = l4 - loc.ipOffset;
    const id0 = version === 4 ? le.getBE16(frame, loc.ipOffset + 4) : 0;
    let ok = true;
    let i = 0;
    let off = 0;
    this.stats.segmented++;
    do {
      const n = Math.min(mss, total - off);
      const last = off + n >= total;
      const seg = buf.subarray(0, hdrEnd + n);
      seg.set(frame.subarray(0, hdrEnd));
      seg.set(frame.subarray(hdrEnd + off, hdrEnd + off + n), hdrEnd);
      const ip = loc.ipOffset;
      if (version === 4) {
        le.setBE16(seg, ip + 2, ihl + thl + n);
        le.setBE16(seg, ip + 4, (id0 + i) & 0xffff);
        le.setBE16(seg, ip + 10, 0);
        le.setBE16(seg, ip + 10, internetChecksum(seg, ip, l4));
      } else {
        le.setBE16(seg, ip + 4, thl + n);
      }
      le.setBE32(seg, l4 + 4, (seq0 + off) >>> 0);
      let flags = flags0;
      if (!last) flags &= ~(TCP_FIN | TCP_PSH);
      if (i > 0) flags &= ~TCP_CWR;
      seg[l4 + 13] = flags;
      le.setBE16(seg, l4 + 16, 0);
      const psum = pseudoSum(seg, { ipVersion: version, ipOffset: ip, protocol: IPPROTO_TCP, l4Offset: l4, l4Length: thl + n });
      le.setBE16(seg, l4 + 16, internetChecksum(seg, l4, hdrEnd + n, psum));
      this.stats.segments++;
      if (!out.deliver(seg)) ok = false;
      off += n;
      i++;
    } while (off < total);
    return ok;
  }

  private fragmentUdp(frame: Uint8Array, o: FrameOffload, buf: Uint8Array, out: FrameSink): boolean {
    const loc = locateL4(frame);
    if (!loc || loc.ipVersion !== 4 || loc.protocol !== IPPROTO_UDP || loc.l4Length < UDP_HLEN) {
      return this.fail('GSO UDP on a frame that is not UDP over IPv4');
    }
    const ip = loc.ipOffset;
    const l4 = loc.l4Offset;
    const ihl = l4 - ip;
    const ipEnd = l4 + loc.l4Length;
    const step = Math.floor(o.gsoSize / 8) * 8;
    if (!Number.isInteger(o.gsoSize) || step <= 0) return this.fail(`bad GSO size ${o.gsoSize}`);
    // The whole datagram with its checksum stays at the start of the buffer; each fragment is
    // built in the region after it (buf has room for twice the frame).
    const dgram = buf.subarray(0, ipEnd);
    dgram.set(frame.subarray(0, ipEnd));
    le.setBE16(dgram, l4 + 6, 0);
    let c = internetChecksum(dgram, l4, ipEnd, pseudoSum(dgram, loc));
    if (c === 0) c = 0xffff;
    le.setBE16(dgram, l4 + 6, c);
    const frag0 = le.getBE16(dgram, ip + 6);
    if ((frag0 & 0x3fff) !== 0) return this.fail('GSO UDP on a frame that is already a fragment');
    const region = buf.subarray(ipEnd);
    let ok = true;
    this.stats.segmented++;
    for (let off = 0; off < loc.l4Length; off += step) {
      const n = Math.min(step, loc.l4Length - off);
      const more = off + n < loc.l4Length;
      const f = region.subarray(0, l4 + n);
      f.set(dgram.subarray(0, l4));
      f.set(dgram.subarray(l4 + off, l4 + off + n), l4);
      le.setBE16(f, ip + 2, ihl + n);
      le.setBE16(f, ip + 6, (more ? 0x2000 : 0) | (off / 8));
      le.setBE16(f, ip + 10, 0);
      le.setBE16(f, ip + 10, internetChecksum(f, ip, l4));
      this.stats.segments++;
      if (!out.deliver(f)) ok = false;
    }
    return ok;
  }
}
