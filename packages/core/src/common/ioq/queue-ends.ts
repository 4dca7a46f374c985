import { RingError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { Side } from '../signal/layout.js';
import type { ShmSignal, Wake } from '../signal/shm-signal.js';
import { Ioq, type IoqIterator } from './ioq.js';
import { IOQ_ITER_NOFLIPOWNER, IOQ_OFF_SIGNAL, IoqIndex, IoqSeek } from './layout.js';

/**
 * The driver's (north's) end of an IOQ, in the pattern venet uses: post a buffer (make it valid,
 * hand it to south), and reclaim buffers south gave back, in order. Signals are the caller's
 * choice: {@link post} does not signal; call {@link kick} (the signal dedups in-flight wakes).
 */
export class IoqDriverQueue {
  readonly ioq: Ioq;
  private readonly valid: IoqIterator;
  private readonly inuse: IoqIterator;
  private readonly reclaimIter: IoqIterator;
  /** Buffers handed to south and not yet reclaimed. */
  outstanding = 0;
  /**
   * The north endpoint of the ring's signal. Starts unwired; set it to the endpoint that
   * `GuestConnection.shm` returns for this ring, so that {@link kick} reaches the device.
   */
  signal: ShmSignal;

  constructor(memory: GuestMemory, address: number, count: number, name: string) {
    Ioq.format(memory, address, count);
    this.ioq = Ioq.attach(memory, address, Side.North, () => {}, name);
    this.valid = this.ioq.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER).seek(IoqSeek.Tail);
    this.inuse = this.ioq.iterator(IoqIndex.Inuse, 0).seek(IoqSeek.Tail);
    this.reclaimIter = this.ioq.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER).seek(IoqSeek.Head);
    this.signal = this.ioq.signal;
  }

  /** Bytes of the ring, for the `shm` verb. */
  get byteLength(): number {
    return Ioq.byteLength(this.ioq.count);
  }
  /** Guest address of the ring's embedded shm-signal descriptor, for the `shm` verb. */
  get signalAddress(): number {
    return this.ioq.address + IOQ_OFF_SIGNAL;
  }

  get count(): number {
    return this.ioq.count;
  }
  /** True if a buffer can be posted now. */
  get canPost(): boolean {
    return this.outstanding < this.ioq.count;
  }

  /** Hand a buffer to south. Returns false (and changes nothing) if the ring is full. */
  post(ptr: number, len: number, cookie: number): boolean {
    if (this.outstanding >= this.ioq.count) return false;
    const v = this.valid;
    v.cookie = cookie;
    v.ptr = ptr;
    v.len = len;
    v.valid = true;
    v.push();
    this.inuse.push();
    this.outstanding++;
    return true;
  }

  /** Wake south (suppressed if south is polling or already woken). */
  kick(): boolean {
    return this.signal.inject();
  }

  /**
   * Take back, in order, up to `budget` buffers that south has finished: `fn(cookie, len)` gets
   * each buffer's cookie and the length south wrote. Returns how many were reclaimed.
   */
  reclaim(fn: (cookie: number, len: number) => void, budget = Infinity): number {
    let n = 0;
    const r = this.reclaimIter;
    while (n < budget && this.outstanding > 0 && r.owned) {
      const cookie = r.cookie;
      const len = r.len;
      r.valid = false;
      r.pop();
      this.outstanding--;
      n++;
      fn(cookie, len);
    }
    return n;
  }

  /** True if south has finished at least one buffer not yet reclaimed. */
  get hasCompleted(): boolean {
    return this.outstanding > 0 && this.reclaimIter.owned;
  }
}

/**
 * The device's (south's) end of an IOQ: look at the next buffer the driver posted, and complete
 * it. Every value is read once from shared memory into plain fields and checked before use.
 */
export class IoqDeviceQueue {
  readonly ioq: Ioq;
  private readonly iter: IoqIterator;
  /** The current buffer, copied out by {@link next}. */
  ptr = 0;
  len = 0;
  cookie = 0;

  constructor(memory: GuestMemory, address: number, length: number, signal: Wake | ShmSignal, name: string, maxCount?: number) {
    this.ioq = Ioq.attach(memory, address, Side.South, signal, name, maxCount);
    if (Ioq.byteLength(this.ioq.count) > length)
      throw new RingError(name, -1, this.ioq.count, `ring of ${this.ioq.count} descriptors needs ${Ioq.byteLength(this.ioq.count)} bytes but the region has ${length}`);
    this.iter = this.ioq.iterator(IoqIndex.Inuse, 0).seek(IoqSeek.Head);
  }

  /**
   * If the driver has handed over a buffer, copy its descriptor into {@link ptr}, {@link len} and
   * {@link cookie} and return true. The buffer bytes are checked against guest memory by the
   * caller's view().
   */
  next(): boolean {
    const it = this.iter;
    if (!it.sown) return false;
    this.ptr = it.ptr;
    this.len = it.len;
    this.cookie = it.cookie;
    return true;
  }

  /** Give the current buffer back to the driver with `len` bytes written (for rx) or as consumed (tx). */
  complete(len: number): void {
    this.iter.len = len;
    this.iter.pop();
  }

  /** Signal the driver (suppressed if it is polling or already woken). */
  notify(): boolean {
    return this.ioq.signal.inject();
  }
}
