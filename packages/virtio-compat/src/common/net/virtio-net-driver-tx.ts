// The virtio-net driver's transmit path: header and frame into a tx buffer, one descriptor posted.
import type { GuestMemory } from '@vbus/core';
import type { FrameOffload } from '@vbus/net';
import { VIRTIO_NET_HDR_CSUM_OFFSET, VIRTIO_NET_HDR_CSUM_START, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_FLAGS, VIRTIO_NET_HDR_SIZE } from './virtio-net-abi.js';
import type { DriverQueue } from './virtio-net-driver-types.js';
import type { AddOptions } from '../virtqueue/virtqueue.js';

const NO_SEGMENTS: readonly { addr: number; len: number }[] = [];
/** add() options of a frame that more follow (one object, no allocation per frame). */
const MORE: AddOptions = { more: true };

/**
 * The 12-byte header zeroed with twelve stores, not fill(): a call into fill or set costs 16 to
 * 30 ns at this size, the stores about 3.
 */
function zeroHeader(v: Uint8Array): void {
  v[0] = v[1] = v[2] = v[3] = v[4] = v[5] = 0;
  v[6] = v[7] = v[8] = v[9] = v[10] = v[11] = 0; // VIRTIO_NET_HDR_SIZE bytes
}

/**
 * Linux's xmit_skb for one linear frame: the 12-byte header written in place at the start of the
 * tx buffer, the frame right after it, posted as one readable descriptor. Allocates nothing per
 * frame: each buffer's view is made once, the segment is reused.
 */
export class TxPath {
  /** The one readable segment of a tx buffer, reused per send (add() copies it into the ring). */
  private readonly seg = { addr: 0, len: 0 };
  private readonly segs = [this.seg];
  /** Per tx queue and buffer, a view of the whole buffer (made on first use). */
  private readonly views: Array<Array<Uint8Array | undefined>> = [];
  /**
   * Per tx queue and buffer, 1 while the buffer's header holds what a plain frame needs (all
   * zero, as this path last wrote it): the next plain frame leaves it unwritten, so its cache line
   * is not pulled back from the device's core (FRAME_ALIGN_PAD gives the header that line alone).
   */
  private readonly plainHeader: Uint8Array[] = [];

  constructor(private readonly memory: GuestMemory) {}

  /** Forget the per-buffer views (the rings were set up again with new buffers). */
  reset(): void {
    this.views.length = 0;
    this.plainHeader.length = 0;
  }

  /**
   * Write the header and `frame` into buffer `i` of `q` and post it; `csum`: CSUM negotiated;
   * `more`: more frames follow at once (published with the batch, by the caller's needsKick).
   * `frame` must fit the buffer after the header (the caller checks).
   */
  post(q: DriverQueue, i: number, frame: Uint8Array, offload: Partial<FrameOffload> | undefined, csum: boolean, more: boolean): void {
    const addr = q.buffers[i]!;
    const views = (this.views[q.index] ??= []);
    const v = (views[i] ??= this.memory.view(addr, q.bufferSize));
    const plain = (this.plainHeader[q.index] ??= new Uint8Array(q.buffers.length));
    if (offload?.needsCsum && csum) {
      // gso_type, hdr_len, gso_size and num_buffers are 0 for a linear frame sent by a driver
      // (§5.1.6.2), so only flags and the checksum fields vary
      const start = offload.csumStart ?? 0;
      const off = offload.csumOffset ?? 0;
      zeroHeader(v);
      v[VIRTIO_NET_HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      v[VIRTIO_NET_HDR_CSUM_START] = start;
      v[VIRTIO_NET_HDR_CSUM_START + 1] = start >>> 8;
      v[VIRTIO_NET_HDR_CSUM_OFFSET] = off;
      v[VIRTIO_NET_HDR_CSUM_OFFSET + 1] = off >>> 8;
      plain[i] = 0;
    } else if (plain[i] === 0) {
      zeroHeader(v);
      plain[i] = 1;
    }
    v.set(frame, VIRTIO_NET_HDR_SIZE);
    const seg = this.seg;
    seg.addr = addr;
    seg.len = VIRTIO_NET_HDR_SIZE + frame.length;
    q.vq.add(this.segs, NO_SEGMENTS, i, more ? MORE : undefined);
  }

  /** Take back every completed tx buffer of `q` (free_old_xmit). */
  reclaim(q: DriverQueue): void {
    q.vq.takeUsed(q.free);
  }
}
