import { FrameCopy, TurnPoller, type DeviceContext, type GuestMemory } from '@vbus/core';
/**
 * One driver's connection to a virtio-net device: the virtio transport plus the NIC's data
 * paths (tx chains to the backend port, backend frames into rx chains, MRG_RXBUF, MQ flow
 * hashing), the receive filter and the control queue. The host side is a @vbus/net backend, the
 * same one venet uses; what it needs of its device comes through a {@link VirtioNetDeviceView}.
 */
import { PortBurst, SoftwareOffload, needsSoftwareOffload, type FrameOffload, type FrameSink, type NetBackendPort } from '@vbus/net';
import { DescriptorChain } from '../virtqueue/descriptor-chain.js';
import type { VirtqueueDevice } from '../virtqueue/virtqueue.js';
import { hasFeature } from '../virtqueue/layout.js';
import type { QueueSlot } from '../transport/queue-slot.js';
import { VirtioDeviceConnection, type QueueCounters } from '../transport/virtio-transport.js';
import {
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VQ_PAIRS,
  VIRTIO_NET_CONFIG_MTU,
  VIRTIO_NET_CONFIG_SIZE,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_SIZE,
  decodeNetHeader,
  emptyNetHeader,
  encodeNetHeader,
} from './virtio-net-abi.js';

import { VIRTIO_NET_MAX_FRAME, type VirtioNetConfig } from './virtio-net-config.js';
import { processControlQueue, type ControlTarget } from './control-queue.js';
import { RxFilter } from './rx-filter.js';

/** What a connection reads of its device: a small view, not the device's fields. */
export interface VirtioNetDeviceView {
  readonly config: VirtioNetConfig;
  /** Config-space status word (LINK_UP, ANNOUNCE). */
  readonly netStatus: number;
  readonly link: boolean;
  /** The driver acknowledged an announcement. */
  clearAnnounce(): void;
}

/** One driver's connection to a virtio-net device: the transport plus the NIC. */
export class VirtioNetConnection extends VirtioDeviceConnection implements FrameSink {
  private port: NetBackendPort | undefined;
  // QEMU's reset defaults: promiscuous until the driver sets a mode
  private readonly filter: RxFilter;
  private readonly control: ControlTarget;
  /** The tx header's private copy, decoded from there. */
  private readonly txHdr = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  /** The tx frame's private copy, co-aligned with the guest's bytes. */
  private readonly txFrame = new FrameCopy(VIRTIO_NET_MAX_FRAME);
  private readonly hdrBytes = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  private readonly hdr = emptyNetHeader();
  private readonly txOffload: FrameOffload = { needsCsum: true, csumStart: 0, csumOffset: 0, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false };
  private readonly rxChains: DescriptorChain[] = [];
  private readonly software = new SoftwareOffload();
  private readonly plain: FrameSink = { deliver: (f) => this.receive(f, undefined) };
  /** Nesting depth of queue processing: rx interrupts raised meanwhile are sent once at the end. */
  private busy = 0;
  /** A burst from the backend is open (frames delivered with `more`): `busy` holds one for it. */
  private rxBurst = false;
  /** A tx drain's frames go to the backend port as one burst, ended when the drain ends. */
  private readonly txBurst = new PortBurst();
  private readonly rxIrqPending: boolean[] = [];
  /** Per tx queue slot: its TurnPoller and the queue it was made for. */
  private readonly txPollers: Array<{ queue: VirtqueueDevice; poller: TurnPoller } | undefined> = [];
  /** Frames dropped by the receive filter. */
  filtered = 0;

  constructor(
    private readonly device: VirtioNetDeviceView,
    context: DeviceContext,
    memory: GuestMemory,
    private readonly onClose: () => void,
  ) {
    const n = device.config.queuePairs;
    super(context, memory, {
      numQueues: 2 * n + 1,
      maxQueueSize: device.config.maxQueueSize,
      features: device.config.features,
      queueName: (i) => (i === 2 * n ? 'ctrl' : i % 2 === 0 ? `rx${i / 2}` : `tx${(i - 1) / 2}`),
    });
    this.filter = new RxFilter(Uint8Array.from(device.config.mac));
    this.control = {
      has: (bit) => this.has(bit),
      filter: this.filter,
      pairs: n,
      pairReady: (k) => this.queues[2 * k]!.queue !== null && this.queues[2 * k + 1]!.queue !== null,
      clearAnnounce: () => device.clearAnnounce(),
    };
  }

  private get pairs(): number {
    return this.device.config.queuePairs;
  }

  /**
   * Queue pairs the driver may use: the configured number with MQ negotiated, else one. Without
   * VIRTIO_NET_F_MQ the device has receiveq1, transmitq1 and the control queue at index 2
   * (virtio 1.2 §5.1.2), however many pairs it was configured with.
   */
  private get activePairs(): number {
    return this.has(VIRTIO_NET_F_MQ) ? this.pairs : 1;
  }

  /** Index of the control queue: 2N with MQ (N = max_virtqueue_pairs), 2 without (§5.1.2). */
  private get ctrlIndex(): number {
    return 2 * this.activePairs;
  }

  protected configSpace(): Uint8Array {
    const b = new Uint8Array(VIRTIO_NET_CONFIG_SIZE);
    const dv = new DataView(b.buffer);
    b.set(this.filter.mac, VIRTIO_NET_CONFIG_MAC);
    dv.setUint16(VIRTIO_NET_CONFIG_STATUS, this.device.netStatus, true);
    dv.setUint16(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS, this.pairs, true);
    dv.setUint16(VIRTIO_NET_CONFIG_MTU, this.device.config.mtu, true);
    return b;
  }

  protected override checkFeatures(f: bigint): string | null {
    const needsCtrl = [VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE];
    if (!hasFeature(f, VIRTIO_NET_F_CTRL_VQ) && needsCtrl.some((b) => hasFeature(f, b))) return 'CTRL_RX, MQ, CTRL_MAC_ADDR need CTRL_VQ (§5.1.3.1)';
    if (hasFeature(f, VIRTIO_NET_F_GUEST_ANNOUNCE) && !hasFeature(f, VIRTIO_NET_F_STATUS)) return 'GUEST_ANNOUNCE needs STATUS';
    return null;
  }

  /** @internal link or announce changed */
  statusChanged(): void {
    if (this.has(VIRTIO_NET_F_STATUS)) this.configChanged();
  }

  protected start(): void {
    const backend = this.device.config.backend;
    this.filter.pairsInUse = 1;
    if (backend) this.port = backend.attach({ name: this.context.name, mac: this.filter.mac, acceptsOffload: true }, this);
    for (let k = 0; k < this.activePairs; k++) {
      // rx kicks are wanted only when the device ran out of buffers
      this.queues[2 * k]!.queue?.disableNotification();
      const tx = this.queues[2 * k + 1]!;
      if (tx.queue?.hasAvailable()) this.guard(tx, () => this.processTx(tx));
    }
  }

  protected stop(): void {
    for (const t of this.txPollers) t?.poller.cancel();
    this.txPollers.length = 0;
    const p = this.port;
    this.port = undefined;
    p?.disconnect();
  }

  override close(): void {
    super.close();
    this.onClose();
  }

  override counters(): Record<string, Record<string, number>> {
    const c = super.counters();
    c.config!.filtered = this.filtered;
    c.config!.offloadErrors = this.software.stats.errors;
    return c;
  }

  protected onNotify(slot: QueueSlot): void {
    if (slot.index === this.ctrlIndex) processControlQueue(slot, this.control, () => this.interrupt(slot));
    else if (slot.index > this.ctrlIndex)
      return; // a queue that does not exist without MQ: nothing to do
    else if (slot.index % 2 === 1) this.processTx(slot);
    else slot.queue!.disableNotification(); // rx refilled: nothing to do until frames come
  }

  // --- transmit ---------------------------------------------------------------------------------

  /**
   * Drain a tx queue: notifications off, pop, deliver, complete; then poll it a few turns
   * (TurnPoller) before notifications go back on, with the re-check.
   */
  private processTx(slot: QueueSlot): void {
    const q = slot.queue!;
    q.disableNotification();
    if (this.drainTx(slot, q)) this.txPoller(slot, q).idle();
  }

  /** Pop and transmit what the tx queue holds. False when more than the budget was queued: a deferred pass continues. */
  private drainTx(slot: QueueSlot, q: VirtqueueDevice): boolean {
    const budget = 4 * q.size;
    let done = 0;
    this.busy++;
    try {
      let chain: DescriptorChain | null;
      while ((chain = q.popChain()) !== null) {
        const id = chain.id;
        const len = this.transmitChain(slot, chain);
        // published with the batch: by interrupt() below, or every USED_PUBLISH_BATCH
        q.addUsed(id, len, true);
        if (++done >= budget) {
          // a guest that keeps the ring full does not get to hold the event loop: continue later
          this.interrupt(slot);
          this.context.defer(() => this.live && slot.queue === q && this.guard(slot, () => this.processTx(slot)));
          return false;
        }
      }
      if (done > 0) this.interrupt(slot);
      return true;
    } finally {
      // the frames of a drain go to the backend as one burst, ended however the drain ends;
      // the held rx interrupts are raised even if the backend's flush throws
      try {
        this.txBurst.end();
      } finally {
        this.busy--;
        if (this.busy === 0) this.flushRxInterrupts();
      }
    }
  }

  /** The poller of tx queue `slot` as set up now (a queue set up again gets a new one). */
  private txPoller(slot: QueueSlot, q: VirtqueueDevice): TurnPoller {
    const known = this.txPollers[slot.index];
    if (known !== undefined && known.queue === q) return known.poller;
    known?.poller.cancel();
    const current = () => this.live && slot.queue === q;
    const poller = new TurnPoller(this.context, this.device.config.pollTurns, {
      hasWork: () => current() && q.hasAvailable(),
      drain: () => {
        let more = false;
        this.guard(slot, () => {
          more = this.drainTx(slot, q);
        });
        return more && current();
      },
      unmask: () => {
        // enableNotification re-checks: buffers that came meanwhile are drained now
        if (current()) this.guard(slot, () => q.enableNotification() && this.processTx(slot));
      },
    });
    this.txPollers[slot.index] = { queue: q, poller };
    return poller;
  }

  /** One tx chain: header + frame out of the readable part, to the backend. Returns the used length (0). */
  private transmitChain(slot: QueueSlot, chain: DescriptorChain): number {
    const c = slot.counters;
    const total = chain.readableBytes;
    if (total < VIRTIO_NET_HDR_SIZE + 14 || total > VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME) {
      c.drops++;
      return 0;
    }
    // copied out first: the guest cannot change the frame after the checks. The copy keeps the
    // guest's alignment (a copy four bytes out of step is six times slower): header and frame in
    // one copy when one buffer holds both, else the header on its own and the frame aligned
    const n = total - VIRTIO_NET_HDR_SIZE;
    const copy = this.txFrame;
    let hdrBytes: Uint8Array;
    let hdrAt: number;
    let at: number;
    if (chain.len(0) >= total) {
      // the common case (Linux, our driver): one buffer, copied straight, no chain reader
      const address = chain.addr(0);
      hdrAt = copy.place(address, total);
      chain.memory!.copyOut(address, copy.bytes, hdrAt, total);
      hdrBytes = copy.bytes;
      at = hdrAt + VIRTIO_NET_HDR_SIZE;
    } else {
      const r = chain.reader();
      r.read(this.txHdr, 0, VIRTIO_NET_HDR_SIZE);
      hdrBytes = this.txHdr;
      hdrAt = 0;
      at = copy.place(r.address, n);
      r.read(copy.bytes, at, n);
    }
    // the header is decoded from the private copy
    const h = decodeNetHeader(hdrBytes, this.hdr, hdrAt);
    let offload: FrameOffload | undefined;
    if ((h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) {
      // no HOST_TSO/UFO offered: a GSO frame is a driver bug, dropped
      c.drops++;
      return 0;
    }
    if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && this.has(VIRTIO_NET_F_CSUM)) {
      // one object reused per frame: like the frame view, valid only during deliver()
      offload = this.txOffload;
      offload.csumStart = h.csumStart;
      offload.csumOffset = h.csumOffset;
      offload.hdrLen = h.hdrLen;
    }
    const port = this.port;
    // the frame view is made only for a backend that will read it
    if (!port || !this.device.link || !this.txBurst.deliver(port, copy.view(at, n), offload)) {
      c.drops++;
      return 0;
    }
    c.frames++;
    c.bytes += n;
    return 0;
  }

  // --- receive ------------------------------------------------------------------------------------

  /**
   * FrameSink: a frame from the backend for this NIC. Never throws. Within a burst (`more`) the
   * rx interrupts wait for its end ({@link flush}), as they do during a tx drain.
   */
  deliver(frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean {
    if (more === true && !this.rxBurst) {
      this.rxBurst = true;
      this.busy++;
    }
    const ok = this.deliverOne(frame, offload);
    if (more !== true) this.flush();
    return ok;
  }

  /** FrameSink: the backend's burst ended; the rx interrupts it held are raised. */
  flush(): void {
    if (!this.rxBurst) return;
    this.rxBurst = false;
    this.busy--;
    if (this.busy === 0) this.flushRxInterrupts();
  }

  private deliverOne(frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    if (!this.live || !this.device.link) {
      this.queues[0]!.counters.drops++;
      return false;
    }
    if (!this.filter.accepts(frame)) {
      this.filtered++;
      return false;
    }
    const gso = offload !== undefined && (offload.gsoType & 0x7f) !== 0;
    if (needsSoftwareOffload(offload) && (gso || !this.has(VIRTIO_NET_F_GUEST_CSUM))) return this.software.process(frame, offload, this.plain);
    return this.receive(frame, offload);
  }

  private receive(frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    const slot = this.queues[2 * this.filter.pairOf(frame)]!;
    let ok = false;
    this.guard(slot, () => {
      ok = this.receiveInto(slot, frame, offload);
    });
    return ok;
  }

  /**
   * Write header + frame into the next rx chain; with MRG_RXBUF spread over as many chains as it
   * takes (num_buffers). No buffers: a counted drop, and rx kicks are turned on so that the
   * driver's refill is seen.
   */
  private receiveInto(slot: QueueSlot, frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    const q = slot.queue;
    if (q === null) {
      slot.counters.drops++;
      return false;
    }
    const need = VIRTIO_NET_HDR_SIZE + frame.length;
    const mrg = this.has(VIRTIO_NET_F_MRG_RXBUF);
    let n = 0;
    let room = 0;
    while (room < need && (mrg || n === 0)) {
      const chain = q.popChain((this.rxChains[n] ??= new DescriptorChain()));
      if (chain === null) break;
      n++;
      room += chain.writableBytes;
    }
    if (room < need || this.rxChains[0]!.writableBytes < VIRTIO_NET_HDR_SIZE) {
      slot.counters.drops++;
      // give back what was taken, empty (the driver reposts buffers shorter than a header)
      for (let i = 0; i < n; i++) q.addUsed(this.rxChains[i]!.id, 0);
      if (n > 0) this.rxInterrupt(slot);
      else q.enableNotification();
      return false;
    }
    const h = this.hdr;
    h.flags = offload?.needsCsum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h.gsoType = VIRTIO_NET_HDR_GSO_NONE;
    h.hdrLen = offload?.hdrLen ?? 0;
    h.gsoSize = 0;
    h.csumStart = offload?.needsCsum ? offload.csumStart : 0;
    h.csumOffset = offload?.needsCsum ? offload.csumOffset : 0;
    h.numBuffers = n;
    encodeNetHeader(h, this.hdrBytes);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const chain = this.rxChains[i]!;
      const w = chain.writer();
      if (i === 0) w.write(this.hdrBytes);
      off += w.write(frame, off);
      // published by rxInterrupt's needsNotification (at once, or when the tx drain ends)
      q.addUsed(chain.id, w.written, true);
    }
    slot.counters.frames++;
    slot.counters.bytes += frame.length;
    this.rxInterrupt(slot);
    return true;
  }

  private rxInterrupt(slot: QueueSlot): void {
    if (this.busy > 0) this.rxIrqPending[slot.index] = true;
    else this.interrupt(slot);
  }

  private flushRxInterrupts(): void {
    for (let i = 0; i < this.rxIrqPending.length; i++) {
      if (!this.rxIrqPending[i]) continue;
      this.rxIrqPending[i] = false;
      const slot = this.queues[i]!;
      if (this.live && slot.queue !== null) this.guard(slot, () => this.interrupt(slot));
    }
  }

  /** Receive-filter state (for tests and introspection). */
  rxFilter(): { promisc: boolean; allmulti: boolean; mac: Uint8Array; pairs: number } {
    return this.filter.snapshot();
  }
}

export type { QueueCounters };
