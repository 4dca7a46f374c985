// The virtio-net driver's receive path: used rx buffers to frames, and the rx queue as NAPI polls it.
import type { GuestConnection, GuestMemory } from '@vbus/core';
import type { FrameHandler, FrameOffload, NapiQueue } from '@vbus/net';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_NUM_BUFFERS, VIRTIO_NET_HDR_SIZE } from './virtio-net-abi.js';
import type { DriverQueue, VirtioNetDriverCounters } from './virtio-net-driver-types.js';
import type { AddOptions } from '../virtqueue/virtqueue.js';

const NO_SEGMENTS: readonly { addr: number; len: number }[] = [];
/** add() options of a buffer that more follow (one object, no allocation per buffer). */
const MORE: AddOptions = { more: true };

/** The buffers of one rx queue, what the receive path needs of the driver. */
export interface RxPathHost {
  readonly memory: GuestMemory;
  readonly counters: VirtioNetDriverCounters;
  /** MRG_RXBUF negotiated: the header's num_buffers counts the buffers of a frame. */
  readonly mergeable: boolean;
  /** The receiver; set before any rx poll runs (the NAPI loops are held until then). */
  readonly frameHandler: FrameHandler | undefined;
}

/**
 * The receive path (Linux's receive_buf): take one used rx buffer (with MRG_RXBUF, every buffer of
 * a frame), check its length against what was posted, read the header once, hand the frame to
 * the receiver as a view reused per buffer (merged frames through one scratch buffer).
 */
export class RxPath {
  /** Per rx queue and buffer, the last view handed to onFrame (reused while the length matches). */
  private readonly views: Array<Array<Uint8Array | undefined>> = [];
  private readonly offload: FrameOffload = { needsCsum: true, csumStart: 0, csumOffset: 0, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false };
  private mrgScratch = new Uint8Array(4096);
  /** The one writable segment of an rx buffer, reused per refill (add() copies it into the ring). */
  private readonly rxSeg = { addr: 0, len: 0 };
  private readonly rxSegs = [this.rxSeg];

  constructor(private readonly host: RxPathHost) {}

  /** Forget the per-buffer views (the rings were set up again with new buffers). */
  reset(): void {
    this.views.length = 0;
  }

  /** Queue `q` as its NAPI loop sees it: interrupts masked in the ring, refilled (and kicked if asked) after each turn. */
  napiQueue(q: DriverQueue, conn: GuestConnection, kick: (q: DriverQueue) => void): NapiQueue {
    const counters = this.host.counters;
    return {
      mask: () => q.vq.disableInterrupts(),
      // true: used buffers arrived meanwhile, and no interrupt is coming for them
      unmask: () => q.vq.enableInterrupts(),
      receive: (budget) => {
        counters.polls++;
        let done = 0;
        while (done < budget && this.receiveOne(q)) done++;
        return done;
      },
      refill: () => {
        this.refill(q);
        if (q.vq.needsKick()) kick(q);
      },
      defer: (fn) => conn.defer(fn),
      get closed() {
        return conn.closed;
      },
    };
  }

  /** Post every free buffer of `q` that the ring has room for, as one batch (the caller's needsKick publishes it). */
  refill(q: DriverQueue): void {
    let i;
    const seg = this.rxSeg;
    seg.len = q.bufferSize;
    while (q.vq.numFree > 0 && (i = q.free.take()) !== undefined) {
      seg.addr = q.buffers[i]!;
      q.vq.add(NO_SEGMENTS, this.rxSegs, i, MORE);
    }
  }

  /** Take one received frame (with MRG_RXBUF possibly several buffers). False if none is complete. */
  receiveOne(q: DriverQueue): boolean {
    const mem = this.host.memory;
    const counters = this.host.counters;
    const u = q.vq.getUsed();
    if (u === null) return false;
    const first = u.token;
    const len = u.len;
    const addr = q.buffers[first]!;
    if (len < VIRTIO_NET_HDR_SIZE || len > q.bufferSize) {
      counters.rxErrors++;
      q.free.push(first);
      return true;
    }
    const hdr = mem.view(addr, VIRTIO_NET_HDR_SIZE);
    const flags = hdr[0]!;
    const numBuffers = this.host.mergeable ? hdr[VIRTIO_NET_HDR_NUM_BUFFERS]! | (hdr[VIRTIO_NET_HDR_NUM_BUFFERS + 1]! << 8) : 1;
    let offload: FrameOffload | undefined;
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      // one object reused per frame: like the frame, it is valid only during onFrame
      offload = this.offload;
      offload.csumStart = hdr[6]! | (hdr[7]! << 8);
      offload.csumOffset = hdr[8]! | (hdr[9]! << 8);
    }
    if (numBuffers <= 1) {
      q.free.push(first);
      counters.received++;
      counters.rxBytes += len - VIRTIO_NET_HDR_SIZE;
      // a view per rx buffer, made once and kept while frames keep the same length
      const n = len - VIRTIO_NET_HDR_SIZE;
      const views = (this.views[q.index] ??= []);
      let v = views[first];
      if (v === undefined || v.length !== n) views[first] = v = mem.view(addr + VIRTIO_NET_HDR_SIZE, n);
      this.host.frameHandler!(v, offload);
      return true;
    }
    // merged: the device published every buffer of the frame before the interrupt
    let total = len - VIRTIO_NET_HDR_SIZE;
    if (this.mrgScratch.length < numBuffers * q.bufferSize) this.mrgScratch = new Uint8Array(numBuffers * q.bufferSize);
    const out = this.mrgScratch;
    out.set(mem.view(addr + VIRTIO_NET_HDR_SIZE, total), 0);
    q.free.push(first);
    for (let b = 1; b < numBuffers; b++) {
      const v = q.vq.getUsed();
      if (v === null || v.len > q.bufferSize) {
        counters.rxErrors++;
        if (v) q.free.push(v.token);
        return true;
      }
      out.set(mem.view(q.buffers[v.token]!, v.len), total);
      total += v.len;
      q.free.push(v.token);
    }
    counters.received++;
    counters.rxBytes += total;
    this.host.frameHandler!(out.subarray(0, total), offload);
    return true;
  }
}
