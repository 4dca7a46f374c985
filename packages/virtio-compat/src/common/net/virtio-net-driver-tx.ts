// The virtio-net driver's transmit path: header and frame into a tx buffer, one descriptor posted.
import type { GuestMemory } from '@vbus/core';
import type { FrameOffload } from '@vbus/net';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_SIZE, emptyNetHeader, encodeNetHeader } from './virtio-net-abi.js';
import type { DriverQueue } from './virtio-net-driver-types.js';

const NO_SEGMENTS: readonly { addr: number; len: number }[] = [];

/**
 * Linux's xmit_skb for one linear frame: the 12-byte header (checksum offload when negotiated and
 * asked for) and the frame in one tx buffer, posted as one readable descriptor. Allocates nothing
 * per frame: the header, its bytes and the segment are reused.
 */
export class TxPath {
  private readonly hdr = emptyNetHeader();
  private readonly hdrBytes = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  /** The one readable segment of a tx buffer, reused per send (add() copies it into the ring). */
  private readonly seg = { addr: 0, len: 0 };
  private readonly segs = [this.seg];

  constructor(private readonly memory: GuestMemory) {}

  /** Write the header and `frame` into buffer `i` of `q` and post it; `csum`: CSUM negotiated. */
  post(q: DriverQueue, i: number, frame: Uint8Array, offload: Partial<FrameOffload> | undefined, csum: boolean): void {
    const h = this.hdr;
    h.flags = offload?.needsCsum && csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h.csumStart = h.flags ? (offload!.csumStart ?? 0) : 0;
    h.csumOffset = h.flags ? (offload!.csumOffset ?? 0) : 0;
    h.gsoType = 0;
    h.gsoSize = 0;
    h.hdrLen = 0;
    h.numBuffers = 0;
    const addr = q.buffers[i]!;
    const mem = this.memory;
    encodeNetHeader(h, this.hdrBytes);
    mem.copyIn(addr, this.hdrBytes, 0, VIRTIO_NET_HDR_SIZE);
    mem.copyIn(addr + VIRTIO_NET_HDR_SIZE, frame, 0, frame.length);
    const seg = this.seg;
    seg.addr = addr;
    seg.len = VIRTIO_NET_HDR_SIZE + frame.length;
    q.vq.add(this.segs, NO_SEGMENTS, i);
  }

  /** Take back every completed tx buffer of `q` (free_old_xmit). */
  reclaim(q: DriverQueue): void {
    let u;
    while ((u = q.vq.getUsed()) !== null) q.free.push(u.token);
  }
}
