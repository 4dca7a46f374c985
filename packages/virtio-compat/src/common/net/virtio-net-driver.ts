// One file on purpose (about 600 lines, over the ~350 guideline): the driver is one state machine
// (bring-up, tx, NAPI rx with MRG_RXBUF, the control-queue client, recover) over shared per-queue
// state, as Linux keeps virtio_net.c; the loop it shares with venet is @vbus/net's NapiPoll.
import { BusError, cryptoRandomSource, type GuestAllocator, type GuestConnection, type RandomSource, type ShmSignal } from '@vbus/core';
import { NapiPoll, PollBatch, SEND_NOW, type NapiQueue, randomLocalMac, type FrameHandler, type FrameOffload, type GuestNic, type GuestNicStats, type NicSendOptions, type NicSignalCounters } from '@vbus/net';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  featureMask,
  hasFeature,
} from '../virtqueue/layout.js';
import { PackedQueueDriver } from '../virtqueue/packed-queue.js';
import { SplitQueueDriver } from '../virtqueue/split-queue.js';
import type { VirtqueueDriver } from '../virtqueue/virtqueue.js';
import { VirtioTransportClient } from '../transport/transport-client.js';
import {
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VQ_PAIRS,
  VIRTIO_NET_CONFIG_MTU,
  VIRTIO_NET_CONFIG_SIZE,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_CTRL_HDR_SIZE,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_NUM_BUFFERS,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_LINK_UP,
  ctrlQueueIndex,
  emptyNetHeader,
  encodeNetHeader,
  rxQueueIndex,
  txQueueIndex,
} from './virtio-net-abi.js';
import { VIRTIO_NET_IMPLEMENTED_FEATURES } from './features.js';


const NO_SEGMENTS: readonly { addr: number; len: number }[] = [];

/** What onFrame reads as before a handler is attached (no frame reaches it: the loops are held). */
const ignoreFrame: FrameHandler = () => {};
/** Features the driver knows how to use. */
export const VIRTIO_NET_DRIVER_FEATURES: bigint = VIRTIO_NET_IMPLEMENTED_FEATURES;

/** Options of {@link VirtioNetDriver.open}. */
export interface VirtioNetDriverOptions {
  /** Ring layout: "split" (default) or "packed" (needs RING_PACKED from the device). */
  ring?: 'split' | 'packed';
  /** Queue size (default 256, capped by the device's maximum). */
  queueSize?: number;
  /** Feature mask the driver is willing to use (ANDed with what it supports and the device offers). */
  features?: bigint;
  /** Queue pairs to use with MQ (default 1). */
  queuePairs?: number;
  /** Bytes per rx buffer including the 12-byte header (default 2048). */
  rxBufferSize?: number;
  /** Bytes per tx buffer including the header (default 2048): larger frames are refused. */
  txBufferSize?: number;
  /** Frames per NAPI poll before yielding (default 64). */
  pollWeight?: number;
  /**
   * Where the MAC comes from when the device offers none (no VIRTIO_NET_F_MAC): a random locally
   * administered one, as Linux's virtio_net. Give a seeded source for reproducible runs. Default: crypto.
   */
  random?: RandomSource;
}

/** Driver-side counters. */
export interface VirtioNetDriverCounters {
  sent: number;
  received: number;
  /** Bytes of the frames sent and received (without the net header). */
  txBytes: number;
  rxBytes: number;
  /** send() refused: the ring was full (the queue is "stopped" until a tx interrupt). */
  txBusy: number;
  /** send() refused: frame larger than a tx buffer. */
  txTooBig: number;
  /** Kicks (available-buffer notifications) that crossed / were suppressed by the shm-signal. */
  kicks: number;
  kicksSuppressed: number;
  /** Used-buffer notifications (rx + tx interrupts) received. */
  interrupts: number;
  polls: number;
  /** rx buffers returned shorter than a header, or with a bad num_buffers. */
  rxErrors: number;
  configChanges: number;
}

interface Queue {
  index: number;
  vq: VirtqueueDriver<number>;
  signal: ShmSignal;
  buffers: number[];
  bufferSize: number;
  /** tx: free buffer numbers */
  free: number[];
  /** rx: the queue's NAPI loop. */
  napi?: NapiPoll;
}

/**
 * A virtio-net guest driver doing what Linux's virtio_net does: reset, ACKNOWLEDGE, DRIVER,
 * feature negotiation checked by reading FEATURES_OK back, queues (split or packed), rx filled,
 * DRIVER_OK. Transmit kicks only at the end of a batch and only when the device asked
 * (`needsKick`); receive is NAPI: the first interrupt masks interrupts, polls up to a weight per
 * turn through `conn.defer`, refills, and unmasks with a re-check (@vbus/net's {@link NapiPoll},
 * shared with venet).
 *
 * A {@link GuestNic}, as venet's driver: `attachPeer(driver, responder)` runs a GuestResponder on it.
 */
export class VirtioNetDriver implements GuestNic {
  readonly kind = 'virtio-net';
  /**
   * Called for each received frame; the frame view and the offload object are valid only during
   * the call (copy what you keep). Until it is first set, received frames wait in the rx rings
   * (the NAPI loops are held): none is consumed with nobody to take it.
   */
  get onFrame(): FrameHandler {
    return this.frameHandler ?? ignoreFrame;
  }
  set onFrame(handler: FrameHandler) {
    this.frameHandler = handler;
    for (const q of this.rx) q.napi?.release();
  }
  private frameHandler: FrameHandler | undefined;
  /** Called when the link state changes or the device needs a reset. */
  onConfigChange: (status: { link: boolean; needsReset: boolean }) => void = () => {};
  readonly counters: VirtioNetDriverCounters = {
    sent: 0,
    received: 0,
    txBytes: 0,
    rxBytes: 0,
    txBusy: 0,
    txTooBig: 0,
    kicks: 0,
    kicksSuppressed: 0,
    interrupts: 0,
    polls: 0,
    rxErrors: 0,
    configChanges: 0,
  };
  readonly transport: VirtioTransportClient;
  features = 0n;
  mac: Uint8Array = new Uint8Array(6);
  mtu = 1500;
  maxPairs = 1;
  link = true;
  private rx: Queue[] = [];
  private tx: Queue[] = [];
  private ctrl: Queue | undefined;
  private readonly hdr = emptyNetHeader();
  private readonly hdrBytes = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  /** The one readable segment of a tx buffer, reused per send (add() copies it into the ring). */
  private readonly txSeg = { addr: 0, len: 0 };
  private readonly txSegs = [this.txSeg];
  private mrgScratch = new Uint8Array(4096);
  private readonly ctrlWaiters = new Map<number, (ack: number) => void>();
  private readonly options: Required<Omit<VirtioNetDriverOptions, 'features'>> & { features: bigint };
  /** Per rx queue and buffer, the last view handed to onFrame (reused while the length matches). */
  private readonly rxViews: Array<Array<Uint8Array | undefined>> = [];
  private readonly rxOffload: FrameOffload = { needsCsum: true, csumStart: 0, csumOffset: 0, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false };
  /** Sends made inside an rx poll (replies) kick once when the poll ends, per tx pair. */
  private readonly kickAfterPoll: boolean[] = [];
  private readonly pollBatch = new PollBatch(() => this.kickAfterPolls());
  private readonly signals = new Map<number, ShmSignal>();
  private configSignal: ShmSignal | undefined;

  private constructor(
    readonly conn: GuestConnection,
    private readonly allocator: GuestAllocator,
    options: VirtioNetDriverOptions,
  ) {
    this.transport = new VirtioTransportClient(conn, allocator);
    this.options = {
      ring: options.ring ?? 'split',
      queueSize: options.queueSize ?? 256,
      features: options.features ?? VIRTIO_NET_DRIVER_FEATURES,
      queuePairs: options.queuePairs ?? 1,
      rxBufferSize: options.rxBufferSize ?? 2048,
      txBufferSize: options.txBufferSize ?? 2048,
      pollWeight: options.pollWeight ?? 64,
      random: options.random ?? cryptoRandomSource,
    };
  }

  /** Bring the device up (the whole §3.1.1 sequence). Throws if the device refuses the features. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: VirtioNetDriverOptions = {}): Promise<VirtioNetDriver> {
    const d = new VirtioNetDriver(conn, allocator, options);
    await d.init();
    return d;
  }

  /**
   * Reset the device and bring it up again (after DEVICE_NEEDS_RESET, say): fresh rings and
   * buffers, the same signals (shm registrations live as long as the connection).
   */
  async recover(): Promise<void> {
    const old = [...this.rx, ...this.tx, ...(this.ctrl ? [this.ctrl] : [])];
    this.rx = [];
    this.tx = [];
    this.ctrl = undefined;
    this.rxViews.length = 0; // the new rings get new buffers
    for (const w of this.ctrlWaiters.values()) w(1);
    this.ctrlWaiters.clear();
    await this.init();
    void old; // their memory stays allocated: the device may still have been writing into it
  }

  private async init(): Promise<void> {
    const t = this.transport;
    const name = this.conn.device.name;
    await t.setStatus(0);
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    const offered = await t.deviceFeatures();
    if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
      await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
      throw new BusError(`${name}: the device does not offer VERSION_1`);
    }
    let f = offered & VIRTIO_NET_DRIVER_FEATURES & this.options.features;
    const packed = featureMask(VIRTIO_F_RING_PACKED);
    if (this.options.ring === 'packed') {
      if ((f & packed) === 0n) throw new BusError(`${name}: packed rings asked for but RING_PACKED is not available`);
    } else f &= ~packed;
    if (!hasFeature(f, VIRTIO_NET_F_CTRL_VQ)) f &= ~(featureMask(VIRTIO_NET_F_CTRL_RX) | featureMask(VIRTIO_NET_F_MQ) | featureMask(VIRTIO_NET_F_CTRL_MAC_ADDR));
    this.features = f;
    await t.setDriverFeatures(f);
    const s = await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    if ((s & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
      throw new BusError(`${name}: the device refused features 0x${f.toString(16)} (FEATURES_OK not set)`);
    }
    const cfg = await t.readConfig(0, VIRTIO_NET_CONFIG_SIZE);
    const dv = new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength);
    if (this.has(VIRTIO_NET_F_MAC)) this.mac = cfg.slice(VIRTIO_NET_CONFIG_MAC, VIRTIO_NET_CONFIG_MAC + 6);
    else this.mac = randomLocalMac(this.options.random); // no MAC from the device: a random local one, as Linux's virtio_net
    if (this.has(VIRTIO_NET_F_MTU)) this.mtu = dv.getUint16(VIRTIO_NET_CONFIG_MTU, true);
    this.link = !this.has(VIRTIO_NET_F_STATUS) || (dv.getUint16(VIRTIO_NET_CONFIG_STATUS, true) & VIRTIO_NET_S_LINK_UP) !== 0;
    this.maxPairs = this.has(VIRTIO_NET_F_MQ) ? dv.getUint16(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS, true) : 1;
    const pairs = Math.max(1, Math.min(this.options.queuePairs, this.maxPairs));

    for (let k = 1; k <= pairs; k++) {
      this.rx.push(await this.setupQueue(rxQueueIndex(k), this.options.rxBufferSize, 'rx'));
      this.tx.push(await this.setupQueue(txQueueIndex(k), this.options.txBufferSize, 'tx'));
    }
    if (this.has(VIRTIO_NET_F_CTRL_VQ)) this.ctrl = await this.setupQueue(ctrlQueueIndex(this.maxPairs), 64, 'ctrl');
    this.configSignal ??= await t.registerConfigSignal();
    this.configSignal.handler = () => void this.onConfigSignal();

    for (const q of this.rx) {
      this.refill(q);
      // rx kicks are rare (the device asks only when it ran dry): one is left to the refill path
    }
    for (const q of this.tx) q.vq.disableInterrupts(); // tx completions are reaped on send (free_old_xmit)
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    for (const q of this.rx) if (q.vq.needsKick()) this.kick(q);
    if (pairs > 1) {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, pairs, true);
      if ((await this.command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b)) !== VIRTIO_NET_OK) throw new BusError(`${name}: VQ_PAIRS_SET ${pairs} refused`);
    }
  }

  private has(bit: number): boolean {
    return hasFeature(this.features, bit);
  }

  private async setupQueue(index: number, bufferSize: number, kind: 'rx' | 'tx' | 'ctrl'): Promise<Queue> {
    const packed = this.has(VIRTIO_F_RING_PACKED);
    const common = {
      name: `${this.conn.device.name}.q${index}`,
      memory: this.conn.memory,
      size: kind === 'ctrl' ? 16 : this.options.queueSize,
      eventIdx: this.has(VIRTIO_F_EVENT_IDX),
      indirect: this.has(VIRTIO_F_INDIRECT_DESC),
      allocator: this.allocator,
    };
    const vq: VirtqueueDriver<number> = packed ? PackedQueueDriver.allocate<number>(common) : SplitQueueDriver.allocate<number>(common);
    const a = vq instanceof PackedQueueDriver ? vq.addresses : (vq as SplitQueueDriver<number>).addresses;
    const areas =
      'descRing' in a ? { desc: a.descRing, driver: a.driverEvent, device: a.deviceEvent } : { desc: a.descTable, driver: a.availRing, device: a.usedRing };
    let signal = this.signals.get(index);
    if (!signal) {
      signal = await this.transport.registerQueue(index, { address: areas.desc, length: 16 * common.size });
      this.signals.set(index, signal);
    }
    await this.transport.setupQueue(index, common.size, areas);
    const buffers: number[] = [];
    for (let i = 0; i < common.size; i++) buffers.push(this.allocator.alloc(bufferSize, 64));
    const q: Queue = { index, vq, signal, buffers, bufferSize, free: buffers.map((_, i) => common.size - 1 - i) };
    if (kind === 'rx') {
      const napi = (q.napi = new NapiPoll(this.napiQueue(q), this.options.pollWeight, this.pollBatch, 'deferred'));
      // rings set up again (recover()) poll at once if a receiver is already attached
      if (this.frameHandler !== undefined) napi.release();
      signal.handler = () => {
        this.counters.interrupts++;
        napi.interrupt();
      };
    } else if (kind === 'tx') {
      signal.handler = () => {
        this.counters.interrupts++;
        q.vq.disableInterrupts();
        this.reclaimTx(q);
      };
    } else {
      signal.handler = () => {
        this.counters.interrupts++;
        this.reapCtrl();
      };
    }
    return q;
  }

  private kick(q: Queue): void {
    if (q.signal.inject()) this.counters.kicks++;
    else this.counters.kicksSuppressed++;
  }

  // --- transmit -----------------------------------------------------------------------------------

  /**
   * Send one frame. With `more` (Linux's xmit_more) the kick is left to the last frame of a
   * batch; otherwise kick only if the device asked (needsKick). Returns false when the ring is
   * full (then a delayed tx interrupt is armed, as Linux does when it stops the queue).
   */
  send(frame: Uint8Array, options: NicSendOptions = SEND_NOW, pair = 0): boolean {
    const q = this.tx[pair];
    if (!q) throw new BusError(`${this.conn.device.name}: no tx queue pair ${pair}`);
    if (VIRTIO_NET_HDR_SIZE + frame.length > q.bufferSize) {
      this.counters.txTooBig++;
      return false;
    }
    this.reclaimTx(q);
    const i = q.free.pop();
    if (i === undefined) {
      this.counters.txBusy++;
      if (q.vq.needsKick()) this.kick(q);
      // wake me when 3/4 are done; if they already are, reap now
      if (q.vq.enableInterruptsDelayed()) {
        q.vq.disableInterrupts();
        this.reclaimTx(q);
      }
      return false;
    }
    const offload = options.offload;
    const h = this.hdr;
    h.flags = offload?.needsCsum && this.has(VIRTIO_NET_F_CSUM) ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h.csumStart = h.flags ? (offload!.csumStart ?? 0) : 0;
    h.csumOffset = h.flags ? (offload!.csumOffset ?? 0) : 0;
    h.gsoType = 0;
    h.gsoSize = 0;
    h.hdrLen = 0;
    h.numBuffers = 0;
    const addr = q.buffers[i]!;
    const mem = this.conn.memory;
    encodeNetHeader(h, this.hdrBytes);
    mem.copyIn(addr, this.hdrBytes, 0, VIRTIO_NET_HDR_SIZE);
    mem.copyIn(addr + VIRTIO_NET_HDR_SIZE, frame, 0, frame.length);
    const seg = this.txSeg;
    seg.addr = addr;
    seg.len = VIRTIO_NET_HDR_SIZE + frame.length;
    q.vq.add(this.txSegs, NO_SEGMENTS, i);
    this.counters.sent++;
    this.counters.txBytes += frame.length;
    if (!options.more) {
      // a frame sent from inside an rx poll (a reply) joins the poll's batch: one kick at its end
      if (this.pollBatch.deferKick()) this.kickAfterPoll[pair] = true;
      else if (q.vq.needsKick()) this.kick(q);
    }
    return true;
  }

  /** Kick after a batch sent with `more`, if the device wants it. */
  flush(pair = 0): void {
    const q = this.tx[pair]!;
    if (q.vq.needsKick()) this.kick(q);
  }

  /** Free tx slots of pair `pair`. */
  txFree(pair = 0): number {
    const q = this.tx[pair]!;
    this.reclaimTx(q);
    return q.free.length;
  }

  private reclaimTx(q: Queue): void {
    let u;
    while ((u = q.vq.getUsed()) !== null) q.free.push(u.token);
  }

  // --- receive (NAPI) -----------------------------------------------------------------------------

  private refill(q: Queue): void {
    let i;
    while (q.vq.numFree > 0 && (i = q.free.pop()) !== undefined) q.vq.add([], [{ addr: q.buffers[i]!, len: q.bufferSize }], i);
  }

  /** The rx queue as the NAPI loop sees it: interrupts masked in the ring, refilled after each turn. */
  private napiQueue(q: Queue): NapiQueue {
    const conn = this.conn;
    return {
      mask: () => q.vq.disableInterrupts(),
      // true: used buffers arrived meanwhile, and no interrupt is coming for them
      unmask: () => q.vq.enableInterrupts(),
      receive: (budget) => {
        this.counters.polls++;
        let done = 0;
        while (done < budget && this.receiveOne(q)) done++;
        return done;
      },
      refill: () => {
        this.refill(q);
        if (q.vq.needsKick()) this.kick(q);
      },
      defer: (fn) => conn.defer(fn),
      get closed() {
        return conn.closed;
      },
    };
  }

  /** The end of an rx poll: one kick per tx pair that sent replies during it. */
  private kickAfterPolls(): void {
    for (let p = 0; p < this.kickAfterPoll.length; p++) {
      if (!this.kickAfterPoll[p]) continue;
      this.kickAfterPoll[p] = false;
      const t = this.tx[p]!;
      if (t.vq.needsKick()) this.kick(t);
    }
  }

  /** Take one received frame (with MRG_RXBUF possibly several buffers). False if none is complete. */
  private receiveOne(q: Queue): boolean {
    const mem = this.conn.memory;
    const u = q.vq.getUsed();
    if (u === null) return false;
    const first = u.token;
    const len = u.len;
    const addr = q.buffers[first]!;
    if (len < VIRTIO_NET_HDR_SIZE || len > q.bufferSize) {
      this.counters.rxErrors++;
      q.free.push(first);
      return true;
    }
    const hdr = mem.view(addr, VIRTIO_NET_HDR_SIZE);
    const flags = hdr[0]!;
    const numBuffers = this.has(VIRTIO_NET_F_MRG_RXBUF) ? hdr[VIRTIO_NET_HDR_NUM_BUFFERS]! | (hdr[VIRTIO_NET_HDR_NUM_BUFFERS + 1]! << 8) : 1;
    let offload: FrameOffload | undefined;
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      // one object reused per frame: like the frame, it is valid only during onFrame
      offload = this.rxOffload;
      offload.csumStart = hdr[6]! | (hdr[7]! << 8);
      offload.csumOffset = hdr[8]! | (hdr[9]! << 8);
    }
    if (numBuffers <= 1) {
      q.free.push(first);
      this.counters.received++;
      this.counters.rxBytes += len - VIRTIO_NET_HDR_SIZE;
      // a view per rx buffer, made once and kept while frames keep the same length
      const n = len - VIRTIO_NET_HDR_SIZE;
      const views = (this.rxViews[q.index] ??= []);
      let v = views[first];
      if (v === undefined || v.length !== n) views[first] = v = mem.view(addr + VIRTIO_NET_HDR_SIZE, n);
      this.frameHandler!(v, offload);
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
        this.counters.rxErrors++;
        if (v) q.free.push(v.token);
        return true;
      }
      out.set(mem.view(q.buffers[v.token]!, v.len), total);
      total += v.len;
      q.free.push(v.token);
    }
    this.counters.received++;
    this.counters.rxBytes += total;
    this.frameHandler!(out.subarray(0, total), offload);
    return true;
  }

  // --- control queue ------------------------------------------------------------------------------

  /** Send a control command `{class, cmd}` + data; resolves to the device's ack (VIRTIO_NET_OK / ERR). */
  command(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    const q = this.ctrl;
    if (!q) return Promise.reject(new BusError(`${this.conn.device.name}: no control queue (CTRL_VQ not negotiated)`));
    const i = q.free.pop();
    if (i === undefined) return Promise.reject(new BusError(`${this.conn.device.name}: control queue full`));
    const addr = q.buffers[i]!;
    const mem = this.conn.memory;
    const n = VIRTIO_NET_CTRL_HDR_SIZE + data.length;
    if (n + 1 > q.bufferSize) return Promise.reject(new BusError(`${this.conn.device.name}: control data too long`));
    mem.view(addr, 2).set([cls, cmd]);
    mem.view(addr + 2, data.length).set(data);
    mem.view(addr + n, 1)[0] = 0xff;
    this.ackOffset.set(i, n);
    const p = new Promise<number>((resolve) => this.ctrlWaiters.set(i, resolve));
    q.vq.add([{ addr, len: n }], [{ addr: addr + n, len: 1 }], i);
    if (q.vq.needsKick()) this.kick(q);
    return p;
  }

  private reapCtrl(): void {
    const q = this.ctrl!;
    let u;
    while ((u = q.vq.getUsed()) !== null) {
      const i = u.token;
      const addr = q.buffers[i]!;
      const ackAt = this.ackOffset.get(i) ?? 0;
      const ack = u.len >= 1 ? this.conn.memory.view(addr + ackAt, 1)[0]! : 1;
      q.free.push(i);
      const w = this.ctrlWaiters.get(i);
      this.ctrlWaiters.delete(i);
      w?.(ack);
    }
  }
  private readonly ackOffset = new Map<number, number>();

  /** Receive mode (CTRL_RX). */
  async setRxMode(mode: { promisc?: boolean; allmulti?: boolean }): Promise<boolean> {
    let ok = true;
    if (mode.promisc !== undefined) ok &&= (await this.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, Uint8Array.of(mode.promisc ? 1 : 0))) === VIRTIO_NET_OK;
    if (mode.allmulti !== undefined) ok &&= (await this.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, Uint8Array.of(mode.allmulti ? 1 : 0))) === VIRTIO_NET_OK;
    return ok;
  }
  /** Change the MAC address (CTRL_MAC_ADDR). */
  async setMac(mac: Uint8Array): Promise<boolean> {
    const ok = (await this.command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac)) === VIRTIO_NET_OK;
    if (ok) this.mac = Uint8Array.from(mac);
    return ok;
  }

  // --- config changes -----------------------------------------------------------------------------

  private async onConfigSignal(): Promise<void> {
    this.counters.configChanges++;
    try {
      const status = await this.transport.getStatus();
      if (this.has(VIRTIO_NET_F_STATUS)) {
        const cfg = await this.transport.readConfig(VIRTIO_NET_CONFIG_STATUS, 2);
        this.link = (cfg[0]! & VIRTIO_NET_S_LINK_UP) !== 0;
      }
      this.onConfigChange({ link: this.link, needsReset: (status & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET) !== 0 });
    } catch {
      /* connection gone */
    }
  }

  /** GuestNic: whether the device reports the link up (always, without STATUS). */
  get linkUp(): boolean {
    return this.link;
  }

  /** GuestNic: the counters in the terms every NIC shares. */
  stats(): GuestNicStats {
    const c = this.counters;
    return {
      txFrames: c.sent,
      txBytes: c.txBytes,
      rxFrames: c.received,
      rxBytes: c.rxBytes,
      drops: c.txBusy + c.txTooBig + c.rxErrors,
      kicks: c.kicks,
      suppressed: c.kicksSuppressed,
      interrupts: c.interrupts,
    };
  }

  /** Close the connection (the device releases the queues). Buffers stay allocated in the allocator. */
  async close(): Promise<void> {
    await this.conn.close();
  }

  /** The guest-side signal of tx queue `pair` (tests that kick it raw, as a storm would). */
  txSignal(pair = 0): ShmSignal {
    return this.tx[pair]!.signal;
  }

  /** GuestNic: tx frames in flight on pair 0, after reaping completions. */
  txPending(): number {
    const q = this.tx[0]!;
    this.reclaimTx(q);
    return q.buffers.length - q.free.length;
  }

  /** GuestNic: signal counters of rx/tx queue pair 0, for measurements of notification economy. */
  signalCounters(): NicSignalCounters {
    return { tx: this.tx[0]!.signal.counters, rx: this.rx[0]!.signal.counters };
  }
}
