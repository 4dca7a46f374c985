import type { GuestConnection } from '../../common/connector/guest-connection.js';
import type { GuestAllocator } from '../../common/memory/allocator.js';
import type { SignalCounters } from '../../common/signal/shm-signal.js';
import { openDriverRing, type DriverRing } from '../../common/driver/driver-ring.js';
import { ECHO_QUEUE_RX, ECHO_QUEUE_TX } from './echo-device.js';

/** Options of {@link EchoDriver.open}. */
export interface EchoDriverOptions {
  ringSize?: number;
  bufferSize?: number;
  /** Frames handled per poll before yielding (NAPI weight). */
  pollWeight?: number;
  /** Turns a drained ring keeps polling, its signal masked, before it unmasks (`DriverRingOptions.pollTurns`). */
  pollTurns?: number;
}

/** Options of {@link EchoDriver.send}: `more` frames follow (xmit_more), so the kick waits. */
export interface EchoSendOptions {
  readonly more?: boolean;
}
const SEND_NOW: EchoSendOptions = Object.freeze({ more: false });

/**
 * The guest half of the echo device, on two {@link DriverRing}s. Sending one frame costs one
 * kick (a burst sent with `more` costs one); received frames are handled NAPI-style by the rx
 * ring's poll: the first rx signal masks the signal, frames are handled in batches of
 * `pollWeight`, then the signal is unmasked (and the shm-signal re-checks).
 */
export class EchoDriver {
  private readonly bufferSize: number;
  private readonly rxBuffers: number[] = [];
  /** Per rx slot: the view last handed to onFrame, reused while frames keep the same length. */
  private readonly rxViews: Array<Uint8Array | undefined> = [];
  private readonly txFree: number[] = [];
  private readonly txBuffers: number[] = [];
  /** Called for each received frame; the view is valid only during the call. */
  onFrame: (frame: Uint8Array) => void = () => {};
  /** Frames sent and received, sends refused for want of a tx buffer (rx polls: `rx.counters.polls`). */
  readonly counters = { sent: 0, received: 0, txBusy: 0 };
  private readonly freeTx = (cookie: number): void => {
    this.txFree.push(cookie);
  };

  private constructor(
    readonly conn: GuestConnection,
    readonly rx: DriverRing,
    readonly tx: DriverRing,
    allocator: GuestAllocator,
    bufferSize: number,
  ) {
    this.bufferSize = bufferSize;
    for (let i = 0; i < rx.count; i++) this.rxBuffers.push(allocator.alloc(bufferSize, 64));
    for (let i = 0; i < tx.count; i++) {
      this.txBuffers.push(allocator.alloc(bufferSize, 64));
      this.txFree.push(i);
    }
    rx.onComplete = (cookie, len) => this.received(cookie, len);
    tx.onComplete = this.freeTx;
  }

  /** Set up rings and buffers in guest memory and register them with the device. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: EchoDriverOptions = {}): Promise<EchoDriver> {
    const count = options.ringSize ?? 256;
    const pollWeight = options.pollWeight ?? 128;
    const name = conn.device.name;
    const rx = await openDriverRing(conn, { id: ECHO_QUEUE_RX, count, allocator, pollWeight, pollTurns: options.pollTurns, name: `${name}.rx` });
    const tx = await openDriverRing(conn, { id: ECHO_QUEUE_TX, count, allocator, pollWeight, pollTurns: options.pollTurns, name: `${name}.tx` });
    const d = new EchoDriver(conn, rx, tx, allocator, options.bufferSize ?? 2048);
    // fill the rx ring; the echo device takes rx buffers when it has a frame, so no kick
    for (let i = 0; i < count; i++) rx.post(d.rxBuffers[i]!, d.bufferSize, i, true);
    rx.publish();
    return d;
  }

  /**
   * Send one frame. Returns false if every tx buffer is in flight (counted in txBusy). With
   * `more` (Linux's xmit_more) the kick is left to the last frame of a batch.
   */
  send(frame: Uint8Array, options: EchoSendOptions = SEND_NOW): boolean {
    if (this.txFree.length === 0) this.tx.reclaim(this.freeTx);
    const i = this.txFree.pop();
    if (i === undefined) {
      this.counters.txBusy++;
      // what the batch posted so far reaches the device (polling, or kicked by the caller's flush)
      this.tx.publish();
      return false;
    }
    this.conn.memory.copyIn(this.txBuffers[i]!, frame, 0, frame.length);
    this.tx.post(this.txBuffers[i]!, frame.length, i, options.more === true);
    this.counters.sent++;
    return true;
  }

  /** Signals this driver sent (kicks) and suppressed. */
  get txSignalCounters(): SignalCounters {
    return this.tx.signal.counters;
  }
  get rxSignalCounters(): SignalCounters {
    return this.rx.signal.counters;
  }
  /** The tx and rx signal counters together (the shape NIC drivers report too). */
  signalCounters(): { tx: SignalCounters; rx: SignalCounters } {
    return { tx: this.tx.signal.counters, rx: this.rx.signal.counters };
  }

  /** Tx frames the device has not given back yet: they are reaped on its tx-complete signal, so this counts until that signal has run. */
  txPending(): number {
    return this.tx.outstanding;
  }

  /** Kick the device (after a batch sent with `more`). */
  flush(): void {
    this.tx.flush();
  }

  /** One received frame (from the rx ring's poll): hand it up, then give the buffer back. */
  private received(cookie: number, len: number): void {
    this.counters.received++;
    const n = Math.min(len, this.bufferSize);
    let v = this.rxViews[cookie];
    if (v === undefined || v.length !== n) this.rxViews[cookie] = v = this.conn.memory.view(this.rxBuffers[cookie]!, n);
    this.onFrame(v);
    // the device looks at rx when it has a frame to echo: a refill needs no kick
    this.rx.post(this.rxBuffers[cookie]!, this.bufferSize, cookie, true);
  }
}
