import { Ioq, IoqDriverQueue, le, type GuestAllocator, type GuestConnection, type ShmSignal } from '@vbus/core';
import * as abi from '../abi/venet-abi.js';
import type { VenetDriverCounters } from './venet-driver-options.js';

/** Bytes of each event buffer (announced to the device with EVQQUERY). */
const EV_BUF = 32;

/** What the event ring tells its driver. */
export interface VenetEventSink {
  /** A LINKSTATE event: the link is now `up`. */
  link(up: boolean): void;
  /** A batch of events held at least one TXC (tx-complete) event. */
  txComplete(): void;
}

/**
 * The guest side of venet's event queue (EVENTQ group): a ring of small buffers the device fills
 * with LINKSTATE and TXC events. Each signal reads the finished events, counts them in the
 * driver's counters, reports them to the sink and reposts the buffers.
 */
export class VenetEventRing {
  readonly queue: IoqDriverQueue;
  private signalEnd: ShmSignal | undefined;
  private readonly buffers: number[] = [];
  /** Per event buffer: a view of it, made once. */
  private readonly views: Uint8Array[] = [];

  /** Allocate the ring and `size` event buffers in `allocator` and post them all. */
  constructor(
    private readonly conn: GuestConnection,
    allocator: GuestAllocator,
    size: number,
    private readonly counters: VenetDriverCounters,
    private readonly sink: VenetEventSink,
  ) {
    const q = new IoqDriverQueue(conn.memory, allocator.alloc(Ioq.byteLength(size), 64), size, `${conn.device.name}.evq`);
    for (let i = 0; i < size; i++) {
      this.buffers.push(allocator.alloc(EV_BUF, 8));
      this.views.push(conn.memory.view(this.buffers[i]!, EV_BUF));
      q.post(this.buffers[i]!, EV_BUF, i);
    }
    this.queue = q;
  }

  /** The ring's signal, once {@link register}ed. */
  get signal(): ShmSignal | undefined {
    return this.signalEnd;
  }

  /** Register the ring with the device (shm VENET_QUEUE_EVQ) and announce the event size (EVQQUERY). */
  async register(): Promise<void> {
    const { conn, queue: q } = this;
    const signal = (this.signalEnd = q.signal = (await conn.shm(abi.VENET_QUEUE_EVQ, q.ioq.address, q.byteLength, q.signalAddress))!);
    signal.handler = () => this.poll();
    const arg = new Uint8Array(abi.VENET_EVQ_QUERY_SIZE);
    le.setU32(arg, abi.VENET_EVQ_OFF_EVSIZE, EV_BUF);
    le.setU32(arg, abi.VENET_EVQ_OFF_QID, abi.VENET_QUEUE_EVQ);
    await conn.call(abi.VENET_FUNC_EVQQUERY, arg);
  }

  private poll(): void {
    const q = this.queue;
    let txc = 0;
    q.reclaim((cookie, len) => {
      const buf = this.buffers[cookie]!;
      if (len >= abi.VENET_EVENT_HEADER_SIZE) {
        const ev = this.views[cookie]!;
        const id = le.getU32(ev, abi.VENET_EVENT_OFF_ID);
        if (id === abi.VENET_EVENT_LINKSTATE) {
          this.counters.linkEvents++;
          this.sink.link(ev[abi.VENET_EVENT_LINKSTATE_OFF_STATE] !== 0);
        } else if (id === abi.VENET_EVENT_TXC) {
          this.counters.txcEvents++;
          txc++;
        }
      }
      q.post(buf, EV_BUF, cookie);
    });
    if (txc > 0) this.sink.txComplete();
  }
}
