import { BusError, checkPollTurns, Ioq, IoqDriverQueue, le, type GuestAllocator, type GuestConnection, type ShmSignal } from '@vbus/core';
import { NapiPoll, PollBatch, SEND_NOW, type FrameHandler, type GuestNic, type GuestNicStats, type NapiQueue, type NicSendOptions, type NicSignalCounters } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import type { VenetDriverCounters, VenetDriverOptions } from './venet-driver-options.js';
import { VenetEventRing, type VenetEventSink } from './venet-event-ring.js';
import { writeVenetTxSg } from './venet-tx-sg.js';

/** What onFrame reads as before a handler is attached (no frame reaches it: the loop is held). */
const ignoreFrame: FrameHandler = () => {};
const EMPTY = new Uint8Array(0);

/**
 * The guest's venet driver: negotiates SG and the event queue, registers the rings, posts rx
 * buffers and brings the link up. Transmit kicks only at the end of a batch (`more`, Linux's
 * xmit_more); receive is NAPI: the first rx signal masks further ones, polls in batches of
 * pollWeight yielding with `conn.defer`, refills, then unmasks (the shm-signal re-checks); the
 * loop is @vbus/net's {@link NapiPoll}, shared with virtio-net.
 *
 * A {@link GuestNic}: anything written against that (the GuestResponder through `attachPeer`)
 * runs on it; received frames go to {@link onFrame}.
 */
export class VenetDriver implements GuestNic {
  readonly kind = 'venet';
  readonly mtu: number;
  readonly rx: IoqDriverQueue;
  readonly tx: IoqDriverQueue;
  evq: IoqDriverQueue | undefined;
  mac = new Uint8Array(6);
  /** Negotiated SG and EVENTQ bits. */
  sgCaps = 0;
  eventqCaps = 0;
  linkUp = false;
  readonly counters: VenetDriverCounters = {
    sent: 0,
    received: 0,
    txBytes: 0,
    rxBytes: 0,
    txBusy: 0,
    txCompletes: 0,
    rxInterrupts: 0,
    polls: 0,
    linkEvents: 0,
    txcEvents: 0,
    rxEmpty: 0,
  };
  /**
   * Each received frame; the view is valid only during the call. Until it is first set, received
   * frames wait in the rx ring (the NAPI loop is held): none is consumed with nobody to take it.
   */
  get onFrame(): FrameHandler {
    return this.frameHandler ?? ignoreFrame;
  }
  set onFrame(handler: FrameHandler) {
    this.frameHandler = handler;
    this.napi?.release();
  }
  private frameHandler: FrameHandler | undefined;
  /** Link state changes reported by LINKSTATE events. */
  onLink: (up: boolean) => void = () => {};
  /** GuestNic: called when tx buffers were freed after a send refused for a full ring. */
  onTxWake: () => void = () => {};
  /** A send was refused for a full ring and onTxWake has not been called since. */
  private txStopped = false;
  private rxSignal!: ShmSignal;
  private txSignal!: ShmSignal;
  private events: VenetEventRing | undefined;
  private readonly bufferSize: number;
  private readonly pollWeight: number;
  private readonly rxPollTurns: number;
  private readonly maxSegments: number;
  private readonly rxBuffers: number[] = [];
  /** Per rx slot: the view last handed to onFrame, reused while frames keep the same length. */
  private readonly rxViews: Array<Uint8Array | undefined> = [];
  private readonly txBuffers: number[] = [];
  /** Per tx slot: where its SG descriptor lives. */
  private readonly txSg: number[] = [];
  private readonly txFree: number[] = [];
  /** Per tx slot: a view of its buffer, made on its first plain send (no view per frame). */
  private readonly txViews: Array<Uint8Array | undefined> = [];
  /** Per tx slot: a view of its SG descriptor, made once (no view per frame). */
  private readonly txSgViews: Uint8Array[] = [];
  /** The one-part array {@link send} hands to {@link sendv} (reused, cleared after each call). */
  private readonly onePart: Uint8Array[] = [new Uint8Array(0)];
  private readonly freeTxSlot = (cookie: number): void => {
    this.txFree.push(cookie);
  };
  private readonly eventSink: VenetEventSink = {
    link: (up) => {
      this.linkUp = up;
      this.onLink(up);
    },
    txComplete: () => {
      this.counters.txCompletes++;
      this.txInterrupt();
    },
  };
  /** Sends made inside an rx poll (replies) kick once when the poll ends. */
  private readonly pollBatch = new PollBatch(() => this.kickTx());
  private napi: NapiPoll | undefined;
  /** Frames posted with `more` and not yet kicked. */
  private unkicked = false;
  private stopping = false;

  private constructor(
    readonly conn: GuestConnection,
    private readonly allocator: GuestAllocator,
    options: VenetDriverOptions,
  ) {
    const n = options.ringSize ?? abi.VENET_DEFAULT_GUEST_RING_SIZE;
    this.bufferSize = options.bufferSize ?? 2048;
    this.pollWeight = options.pollWeight ?? abi.VENET_DEFAULT_POLL_WEIGHT;
    this.rxPollTurns = checkPollTurns(options.rxPollTurns, 0, 'rxPollTurns');
    this.maxSegments = options.maxSegments ?? 8;
    this.mtu = options.mtu ?? abi.VENET_DEFAULT_MTU;
    if (!(this.maxSegments >= 1 && this.maxSegments <= abi.VENET_SG_MAX_IOV)) throw new BusError(`maxSegments must be in [1, ${abi.VENET_SG_MAX_IOV}]`);
    const mem = conn.memory;
    this.rx = new IoqDriverQueue(mem, allocator.alloc(Ioq.byteLength(n), 64), n, `${conn.device.name}.rx`);
    this.tx = new IoqDriverQueue(mem, allocator.alloc(Ioq.byteLength(n), 64), n, `${conn.device.name}.tx`);
    for (let i = 0; i < n; i++) {
      this.rxBuffers.push(allocator.alloc(this.bufferSize, 64));
      this.txBuffers.push(allocator.alloc(this.bufferSize, 64));
      this.txFree.push(n - 1 - i);
    }
  }

  /** Negotiate, query the MAC, set up and register rings, post rx buffers, bring the link up. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: VenetDriverOptions = {}): Promise<VenetDriver> {
    const d = new VenetDriver(conn, allocator, options);
    // negotiation order: SG, then EVENTQ (L4RO is not used)
    d.sgCaps = await d.negotiate(abi.VENET_CAP_GROUP_SG, options.sg ?? 0);
    d.eventqCaps = await d.negotiate(abi.VENET_CAP_GROUP_EVENTQ, options.eventq ?? abi.VENET_CAP_EVQ_LINKSTATE);
    d.mac = (await conn.call(abi.VENET_FUNC_MACQUERY)).slice(0, 6);
    if ((d.sgCaps & abi.VENET_CAP_SG) !== 0) {
      const size = abi.venetSgSize(d.maxSegments);
      for (let i = 0; i < d.tx.count; i++) {
        d.txSg.push(allocator.alloc(size, 8));
        d.txSgViews.push(conn.memory.view(d.txSg[i]!, size));
      }
    }
    for (let i = 0; i < d.rx.count; i++) d.rx.post(d.rxBuffers[i]!, d.bufferSize, i);
    d.rxSignal = d.rx.signal = (await conn.shm(abi.VENET_QUEUE_RX, d.rx.ioq.address, d.rx.byteLength, d.rx.signalAddress))!;
    d.txSignal = d.tx.signal = (await conn.shm(abi.VENET_QUEUE_TX, d.tx.ioq.address, d.tx.byteLength, d.tx.signalAddress))!;
    const napi = (d.napi = new NapiPoll(d.napiQueue(), d.pollWeight, d.pollBatch, 'inline', d.rxPollTurns));
    d.rxSignal.handler = () => {
      d.counters.rxInterrupts++;
      napi.interrupt();
    };
    d.txSignal.handler = () => {
      d.counters.txCompletes++;
      d.txInterrupt();
    };
    if (d.eventqCaps !== 0) {
      const events = (d.events = new VenetEventRing(conn, allocator, options.eventRingSize ?? 64, d.counters, d.eventSink));
      d.evq = events.queue;
      await events.register();
    }
    await conn.call(abi.VENET_FUNC_LINKUP);
    d.linkUp = true;
    return d;
  }

  private async negotiate(gid: number, bits: number): Promise<number> {
    const arg = new Uint8Array(abi.VENET_CAPS_SIZE);
    le.setU32(arg, abi.VENET_CAPS_OFF_GID, gid);
    le.setU32(arg, abi.VENET_CAPS_OFF_BITS, bits);
    const r = await this.conn.call(abi.VENET_FUNC_NEGCAP, arg);
    return r.length >= abi.VENET_CAPS_SIZE ? le.getU32(r, abi.VENET_CAPS_OFF_BITS) : 0;
  }

  /** True if transmit uses SG descriptors. */
  get sg(): boolean {
    return (this.sgCaps & abi.VENET_CAP_SG) !== 0;
  }

  /**
   * Send one frame. False (counted in txBusy) if every tx buffer is in flight. With `more` the
   * kick is left to the last frame of the batch (or {@link flush}), and the frame's buffer is
   * published with the batch's (every 32 at most, and on a refusal).
   */
  send(frame: Uint8Array, options: NicSendOptions = SEND_NOW): boolean {
    if (this.sg || options.offload) {
      const parts = this.onePart;
      parts[0] = frame;
      try {
        return this.sendv(parts, options);
      } finally {
        parts[0] = EMPTY;
      }
    }
    // one plain frame (the common case): straight into its buffer through a view made once per
    // slot, without sendv's parts, loops and guest-memory lookup
    const total = frame.length;
    if (total > this.bufferSize) throw this.tooLong(total);
    const slot = this.takeTxSlot(options);
    if (slot < 0) return false;
    const buf = this.txBuffers[slot]!;
    (this.txViews[slot] ??= this.conn.memory.view(buf, this.bufferSize)).set(frame, 0);
    this.tx.post(buf, total, slot, options.more === true);
    this.txPosted(total, options);
    return true;
  }

  private tooLong(total: number): BusError {
    return new BusError(`${this.conn.device.name}: frame of ${total} bytes exceeds the tx buffer size ${this.bufferSize}`);
  }

  /** A free tx slot, or -1 (counted in txBusy, the queue stopped) when every buffer is in flight. */
  private takeTxSlot(options: NicSendOptions): number {
    if (this.txFree.length === 0) this.reclaimTx();
    const slot = this.txFree.pop();
    if (slot === undefined) {
      this.counters.txBusy++;
      // the queue stops: the tx-complete interrupt that frees buffers wakes the sender
      this.txStopped = true;
      if (!options.more) this.tx.kick();
      else this.tx.publish(); // what the batch posted so far reaches a polling device
      return -1;
    }
    this.txStopped = false; // buffers were free after all (reclaimed on this path): the queue runs
    return slot;
  }

  /** Count a posted frame and kick (or leave the kick to the batch's end). */
  private txPosted(total: number, options: NicSendOptions): void {
    this.counters.sent++;
    this.counters.txBytes += total;
    if (!options.more) {
      // a frame sent from inside the rx poll (a reply) joins the poll's batch: one kick at its end
      if (!this.pollBatch.deferKick()) this.kickTx();
    } else this.unkicked = true;
  }

  /**
   * Send a frame made of several parts: with SG each part is its own iov entry; without SG
   * the parts are copied together. Optional offload metadata needs SG (and its capability).
   */
  sendv(parts: readonly Uint8Array[], options: NicSendOptions = SEND_NOW): boolean {
    // index loops: a for-of here allocated an array iterator per frame (allocation profile)
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += parts[i]!.length;
    if (total > this.bufferSize) throw this.tooLong(total);
    if (this.sg && parts.length > this.maxSegments) throw new BusError(`${this.conn.device.name}: ${parts.length} segments exceed maxSegments ${this.maxSegments}`);
    if (options.offload && !this.sg) throw new BusError(`${this.conn.device.name}: offload metadata needs SG`);
    const slot = this.takeTxSlot(options);
    if (slot < 0) return false;
    const mem = this.conn.memory;
    const buf = this.txBuffers[slot]!;
    if (!this.sg) {
      let at = 0;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        mem.copyIn(buf + at, p, 0, p.length);
        at += p.length;
      }
      this.tx.post(buf, total, slot, options.more === true);
    } else {
      writeVenetTxSg(mem, this.txSgViews[slot]!, slot, buf, parts, total, options.offload);
      this.tx.post(this.txSg[slot]!, abi.venetSgSize(parts.length), slot, options.more === true);
    }
    this.txPosted(total, options);
    return true;
  }

  /** Kick the device if frames were posted with `more` since the last kick (a flush with nothing new costs nothing). */
  flush(): void {
    if (this.unkicked) this.kickTx();
  }

  private kickTx(): void {
    this.unkicked = false;
    this.tx.kick();
  }

  /** Take back tx buffers the device finished. */
  reclaimTx(): number {
    return this.tx.reclaim(this.freeTxSlot);
  }

  /** A tx-complete interrupt (signal or TXC events): reclaim, and wake a stopped sender. */
  private txInterrupt(): void {
    this.reclaimTx();
    if (this.txStopped && this.txFree.length > 0) {
      this.txStopped = false;
      this.onTxWake();
    }
  }

  /** Tx buffers in flight. */
  get txInFlight(): number {
    return this.tx.outstanding;
  }

  /** Signal counters of the tx ring (injected = kicks; wakeups = tx-complete interrupts). */
  get txSignalCounters() {
    return this.txSignal.counters;
  }
  /** Signal counters of the rx ring (wakeups = rx interrupts). */
  get rxSignalCounters() {
    return this.rxSignal.counters;
  }
  get evqSignalCounters() {
    return this.events?.signal?.counters;
  }

  /** The rx ring as the NAPI loop sees it: the signal masks, a batch reposts as it goes. */
  private napiQueue(): NapiQueue {
    const conn = this.conn;
    const mem = conn.memory;
    return {
      mask: () => this.rxSignal.disable(),
      // enable() re-checks and, if frames came meanwhile, runs the handler itself
      unmask: () => {
        this.rxSignal.enable();
        return false;
      },
      receive: (budget) => {
        this.counters.polls++;
        return this.receiveBatch(mem, budget);
      },
      refill: () => {},
      defer: (fn) => conn.defer(fn),
      get closed() {
        return conn.closed;
      },
    };
  }

  /** Hand up to pollWeight received frames to onFrame, reposting each buffer. */
  private receiveBatch(mem: GuestConnection['memory'], budget: number): number {
    return this.rx.reclaim((cookie, len) => {
      const buf = this.rxBuffers[cookie];
      if (buf === undefined) return;
      if (len === 0) this.counters.rxEmpty++;
      else {
        this.counters.received++;
        const n = Math.min(len, this.bufferSize);
        this.counters.rxBytes += n;
        let v = this.rxViews[cookie];
        if (v === undefined || v.length !== n) this.rxViews[cookie] = v = mem.view(buf, n);
        // set: the NAPI loop polls only once a handler is attached
        this.frameHandler!(v);
      }
      if (!this.stopping) this.rx.post(buf, this.bufferSize, cookie);
    }, budget);
  }

  /** Ask the device for every posted rx buffer back (used before closing). */
  async flushRx(): Promise<void> {
    this.stopping = true;
    await this.conn.call(abi.VENET_FUNC_FLUSHRX);
  }

  /** Take the link down (LINKDOWN): the device stops delivering frames. */
  async linkDown(): Promise<void> {
    await this.conn.call(abi.VENET_FUNC_LINKDOWN);
    this.linkUp = false;
  }

  /** GuestNic: the signal counters of the tx, rx and event rings. */
  signalCounters(): NicSignalCounters {
    return { tx: this.txSignal.counters, rx: this.rxSignal.counters, events: this.events?.signal?.counters };
  }

  /** GuestNic: tx frames in flight, after reaping completions. */
  txPending(): number {
    this.reclaimTx();
    return this.tx.outstanding;
  }

  /** GuestNic: the counters in the terms every NIC shares. */
  stats(): GuestNicStats {
    const c = this.counters;
    const tx = this.txSignal.counters;
    return {
      txFrames: c.sent,
      txBytes: c.txBytes,
      rxFrames: c.received,
      rxBytes: c.rxBytes,
      drops: c.txBusy,
      kicks: tx.injected,
      suppressed: tx.suppressed,
      interrupts: c.rxInterrupts + c.txCompletes + c.linkEvents,
    };
  }

  /** Close the connection (the device releases the rings). Buffers stay allocated in `allocator`. */
  async close(): Promise<void> {
    this.stopping = true;
    await this.conn.close();
  }
}
