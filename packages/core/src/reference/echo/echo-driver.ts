import type { GuestConnection } from '../../common/connector/guest-connection.js';
import type { GuestAllocator } from '../../common/memory/allocator.js';
import type { ShmSignal, SignalCounters } from '../../common/signal/shm-signal.js';
import { IoqDriverQueue } from '../../common/ioq/queue-ends.js';
import { Ioq } from '../../common/ioq/ioq.js';
import { ECHO_QUEUE_RX, ECHO_QUEUE_TX } from './echo-device.js';

/** Options of {@link EchoDriver.open}. */
export interface EchoDriverOptions {
  ringSize?: number;
  bufferSize?: number;
  /** Frames handled per poll before yielding (NAPI weight). */
  pollWeight?: number;
}

/** Options of {@link EchoDriver.send}: `more` frames follow (xmit_more), so the kick waits. */
export interface EchoSendOptions {
  readonly more?: boolean;
}
const SEND_NOW: EchoSendOptions = Object.freeze({ more: false });

/**
 * The guest half of the echo device. Sending one frame costs one kick; received frames are
 * handled NAPI-style: the first rx signal masks the signal, polls in batches of `pollWeight`,
 * then unmasks (and the shm-signal re-checks).
 */
export class EchoDriver {
  readonly rx: IoqDriverQueue;
  readonly tx: IoqDriverQueue;
  private rxSignal!: ShmSignal;
  private txSignal!: ShmSignal;
  private readonly bufferSize: number;
  private readonly pollWeight: number;
  private readonly rxBuffers: number[] = [];
  /** Per rx slot: the view last handed to onFrame, reused while frames keep the same length. */
  private readonly rxViews: Array<Uint8Array | undefined> = [];
  private readonly txFree: number[] = [];
  private readonly txBuffers: number[] = [];
  /** Called for each received frame; the view is valid only during the call. */
  onFrame: (frame: Uint8Array) => void = () => {};
  readonly counters = { sent: 0, received: 0, txBusy: 0, polls: 0 };
  /** Frames posted with `more` and not yet kicked. */
  private unkicked = false;

  private constructor(
    readonly conn: GuestConnection,
    allocator: GuestAllocator,
    options: EchoDriverOptions,
  ) {
    const n = options.ringSize ?? 256;
    this.bufferSize = options.bufferSize ?? 2048;
    this.pollWeight = options.pollWeight ?? 128;
    const mem = conn.memory;
    this.rx = new IoqDriverQueue(mem, allocator.alloc(Ioq.byteLength(n), 64), n, `${conn.device.name}.rx`);
    this.tx = new IoqDriverQueue(mem, allocator.alloc(Ioq.byteLength(n), 64), n, `${conn.device.name}.tx`);
    for (let i = 0; i < n; i++) {
      this.rxBuffers.push(allocator.alloc(this.bufferSize, 64));
      this.txBuffers.push(allocator.alloc(this.bufferSize, 64));
      this.txFree.push(i);
    }
  }

  /** Set up rings and buffers in guest memory and register them with the device. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: EchoDriverOptions = {}): Promise<EchoDriver> {
    const d = new EchoDriver(conn, allocator, options);
    for (let i = 0; i < d.rx.count; i++) d.rx.post(d.rxBuffers[i]!, d.bufferSize, i);
    d.rxSignal = d.rx.signal = (await conn.shm(ECHO_QUEUE_RX, d.rx.ioq.address, d.rx.byteLength, d.rx.signalAddress))!;
    d.txSignal = d.tx.signal = (await conn.shm(ECHO_QUEUE_TX, d.tx.ioq.address, d.tx.byteLength, d.tx.signalAddress))!;
    d.rxSignal.handler = () => {
      d.rxSignal.disable();
      d.poll();
    };
    d.txSignal.handler = () => d.reclaimTx();
    return d;
  }

  /**
   * Send one frame. Returns false if every tx buffer is in flight (counted in txBusy). With
   * `more` (Linux's xmit_more) the kick is left to the last frame of a batch.
   */
  send(frame: Uint8Array, options: EchoSendOptions = SEND_NOW): boolean {
    if (this.txFree.length === 0) this.reclaimTx();
    const i = this.txFree.pop();
    if (i === undefined) {
      this.counters.txBusy++;
      return false;
    }
    this.conn.memory.copyIn(this.txBuffers[i]!, frame, 0, frame.length);
    this.tx.post(this.txBuffers[i]!, frame.length, i);
    if (options.more) this.unkicked = true;
    else this.kick();
    this.counters.sent++;
    return true;
  }

  /** Signals this driver sent (kicks) and suppressed. */
  get txSignalCounters() {
    return this.txSignal.counters;
  }
  get rxSignalCounters() {
    return this.rxSignal.counters;
  }
  /** The tx and rx signal counters together (the shape NIC drivers report too). */
  signalCounters(): { tx: SignalCounters; rx: SignalCounters } {
    return { tx: this.txSignal.counters, rx: this.rxSignal.counters };
  }

  /** Tx frames the device has not given back yet: they are reaped on its tx-complete signal, so this counts until that signal has run. */
  txPending(): number {
    return this.tx.outstanding;
  }

  /** Kick the device (after a batch sent with `more`). */
  flush(): void {
    // nothing posted since the last kick: nothing to announce
    if (this.unkicked) this.kick();
  }

  private kick(): void {
    this.unkicked = false;
    this.tx.kick();
  }

  private reclaimTx(): void {
    this.tx.reclaim((cookie) => this.txFree.push(cookie));
  }

  /** One NAPI poll: up to pollWeight frames, then either yield or unmask. */
  private poll(): void {
    this.counters.polls++;
    const mem = this.conn.memory;
    const done = this.rx.reclaim((cookie, len) => {
      this.counters.received++;
      const n = Math.min(len, this.bufferSize);
      let v = this.rxViews[cookie];
      if (v === undefined || v.length !== n) this.rxViews[cookie] = v = mem.view(this.rxBuffers[cookie]!, n);
      this.onFrame(v);
      this.rx.post(this.rxBuffers[cookie]!, this.bufferSize, cookie);
    }, this.pollWeight);
    if (done === this.pollWeight && !this.conn.closed) this.conn.defer(() => this.poll());
    else this.rxSignal.enable();
  }
}
