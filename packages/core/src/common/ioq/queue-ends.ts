import { RingError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { Side } from '../signal/layout.js';
import type { ShmSignal, Wake } from '../signal/shm-signal.js';
import { Ioq } from './ioq.js';
import {
  IOQ_DESC_COOKIE,
  IOQ_DESC_LEN,
  IOQ_DESC_PTR,
  IOQ_DESC_SIZE,
  IOQ_DESC_SOWN,
  IOQ_DESC_VALID,
  IOQ_HEADER_SIZE,
  IOQ_IDX_FULL,
  IOQ_IDX_HEAD,
  IOQ_IDX_TAIL,
  IOQ_OFF_IDX_INUSE,
  IOQ_OFF_IDX_VALID,
  IOQ_OFF_SIGNAL,
  IoqIndex,
} from './layout.js';

/** Int32 word index of descriptor `i`'s first word (descriptors are 8-aligned, 32 bytes). */
function descWord(i: number): number {
  return (IOQ_HEADER_SIZE >> 2) + i * (IOQ_DESC_SIZE >> 2);
}
const W_COOKIE = IOQ_DESC_COOKIE >> 2;
const W_PTR = IOQ_DESC_PTR >> 2;
const W_LEN = IOQ_DESC_LEN >> 2;
const TWO_32 = 0x1_0000_0000;

/** The high 32 bits of a non-negative safe integer (no division for the usual value below 2^32). */
function high32(v: number): number {
  return v < TWO_32 ? 0 : Math.floor(v / TWO_32) >>> 0;
}

/**
 * The driver's (north's) end of an IOQ, in the pattern venet uses: post a buffer (make it valid,
 * hand it to south), and reclaim buffers south gave back, in order. Signals are the caller's
 * choice: {@link post} does not signal; call {@link kick} (the signal dedups in-flight wakes).
 *
 * Hot path. North alone writes the valid index (head, tail, full) and the inuse tail, so it keeps
 * them privately and only publishes them; descriptor fields, indices and the valid flag are plain
 * stores, ordered for south by the `Atomics.store` of `sown` that follows them (the one
 * synchronisation point of a push). Descriptor fields are read and written as little-endian
 * 32-bit words through the ring's Int32 view (the host is little-endian, as the index words
 * touched with Atomics already assume).
 */
export class IoqDriverQueue {
  readonly ioq: Ioq;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  /** Private mirrors of the indices north alone writes. */
  private vHead = 0;
  private vTail = 0;
  private readonly wValidHead: number;
  private readonly wValidTail: number;
  private readonly wValidFull: number;
  private readonly wInuseHead: number;
  private readonly wInuseTail: number;
  private readonly wInuseFull: number;
  /** Buffers handed to south (published or not) and not yet reclaimed. */
  outstanding = 0;
  /** Posts not yet published, and the byte offset of the first one's `sown`. */
  private unpublished = 0;
  private firstSownAt = 0;
  /**
   * The north endpoint of the ring's signal. Starts unwired; set it to the endpoint that
   * `GuestConnection.shm` returns for this ring, so that {@link kick} reaches the device.
   */
  signal: ShmSignal;

  constructor(memory: GuestMemory, address: number, count: number, name: string) {
    Ioq.format(memory, address, count);
    this.ioq = Ioq.attach(memory, address, Side.North, () => {}, name);
    this.words = this.ioq.words;
    this.bytes = this.ioq.bytes;
    this.wValidHead = (IOQ_OFF_IDX_VALID + IOQ_IDX_HEAD) >> 2;
    this.wValidTail = (IOQ_OFF_IDX_VALID + IOQ_IDX_TAIL) >> 2;
    this.wValidFull = (IOQ_OFF_IDX_VALID + IOQ_IDX_FULL) >> 2;
    this.wInuseHead = (IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD) >> 2;
    this.wInuseTail = (IOQ_OFF_IDX_INUSE + IOQ_IDX_TAIL) >> 2;
    this.wInuseFull = (IOQ_OFF_IDX_INUSE + IOQ_IDX_FULL) >> 2;
    // a fresh ring: every index is 0 (read back through the validating path all the same)
    this.vHead = this.ioq.readIndex(IoqIndex.Valid, IOQ_IDX_HEAD);
    this.vTail = this.ioq.readIndex(IoqIndex.Valid, IOQ_IDX_TAIL);
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

  /**
   * Hand a buffer to south. Returns false (and changes nothing) if the ring is full. With `more`
   * the buffer may stay unpublished (south does not see it yet) until {@link publish},
   * {@link kick}, a post without `more`, or the {@link IOQ_POST_PUBLISH_BATCH}th post: a batch
   * costs one `Atomics.store` (its first flag, stored last) instead of one per buffer, as
   * {@link IoqDeviceQueue.complete} batches completions and a split virtqueue its avail index.
   */
  post(ptr: number, len: number, cookie: number, more = false): boolean {
    const count = this.ioq.count;
    if (this.outstanding >= count) return false;
    const slot = this.vTail;
    const d = descWord(slot);
    const bytes = this.bytes;
    const sownAt = (d << 2) + IOQ_DESC_SOWN;
    // only a slot south gave back can be reused (south cannot own it while outstanding < count)
    if (Atomics.load(bytes, sownAt) !== 0) throw new RingError(this.ioq.name, slot, 1, 'push of a descriptor this side does not own');
    const w = this.words;
    w[d + W_COOKIE] = cookie >>> 0;
    w[d + W_COOKIE + 1] = high32(cookie);
    w[d + W_PTR] = ptr >>> 0;
    w[d + W_PTR + 1] = high32(ptr);
    w[d + W_LEN] = len >>> 0;
    w[d + W_LEN + 1] = high32(len);
    bytes[(d << 2) + IOQ_DESC_VALID] = 1;
    const next = slot + 1 === count ? 0 : slot + 1;
    this.vTail = next;
    // valid index: north's alone
    w[this.wValidTail] = next;
    if (next === this.vHead) w[this.wValidFull] = 1;
    // inuse index: north writes the tail, south the head. The ring is full only if this post
    // took the last slot: with fewer than count outstanding it cannot be, so south's head (a
    // word south writes per completion) is read only then, not per post
    w[this.wInuseTail] = next;
    if (this.outstanding + 1 === count && next === Atomics.load(w, this.wInuseHead)) w[this.wInuseFull] = 1;
    this.outstanding++;
    // the batch's first flag is stored last, by publish(); south reads the flags in order, so it
    // reads none of the later ones (plain stores) before that one
    if (this.unpublished++ === 0) this.firstSownAt = sownAt;
    else bytes[sownAt] = 1;
    if (!more || this.unpublished >= IOQ_POST_PUBLISH_BATCH) this.publish();
    return true;
  }

  /** Make the buffers {@link post} kept back visible to south (nothing if there are none). */
  publish(): void {
    if (this.unpublished === 0) return;
    this.unpublished = 0;
    // the synchronisation point: every store of the batch is visible to south once it sees the
    // batch's first sown = 1
    Atomics.store(this.bytes, this.firstSownAt, 1);
  }

  /** Buffers posted with `more` that south cannot see yet. */
  get unpublishedCount(): number {
    return this.unpublished;
  }

  /** Publish, then wake south (suppressed if south is polling or already woken). */
  kick(): boolean {
    this.publish();
    return this.signal.inject();
  }

  /**
   * Take back, in order, up to `budget` buffers that south has finished: `fn(cookie, len)` gets
   * each buffer's cookie and the length south wrote. Returns how many were reclaimed.
   */
  reclaim(fn: (cookie: number, len: number) => void, budget = Infinity): number {
    let n = 0;
    const count = this.ioq.count;
    const w = this.words;
    const bytes = this.bytes;
    // an unpublished batch's first flag is still 0: only published buffers can be finished
    const published = this.outstanding - this.unpublished;
    while (n < budget && n < published) {
      const slot = this.vHead;
      const d = descWord(slot);
      // south's Atomics.store of sown = 0 orders its len write before it
      if (Atomics.load(bytes, (d << 2) + IOQ_DESC_SOWN) !== 0) break;
      const cookie = (w[d + W_COOKIE]! >>> 0) + (w[d + W_COOKIE + 1]! >>> 0) * TWO_32;
      const len = (w[d + W_LEN]! >>> 0) + (w[d + W_LEN + 1]! >>> 0) * TWO_32;
      bytes[(d << 2) + IOQ_DESC_VALID] = 0;
      const next = slot + 1 === count ? 0 : slot + 1;
      this.vHead = next;
      w[this.wValidHead] = next;
      w[this.wValidFull] = 0;
      this.outstanding--;
      n++;
      fn(cookie, len);
    }
    return n;
  }

  /** True if south has finished at least one buffer not yet reclaimed. */
  get hasCompleted(): boolean {
    return this.outstanding > this.unpublished && Atomics.load(this.bytes, (descWord(this.vHead) << 2) + IOQ_DESC_SOWN) === 0;
  }
}

/**
 * Posts {@link IoqDriverQueue.post} may keep unpublished (`more`) before it publishes them
 * anyway, so that a long batch reaches a polling device while the driver still fills it.
 */
export const IOQ_POST_PUBLISH_BATCH = 32;

/**
 * Completions {@link IoqDeviceQueue.complete} may keep unpublished (`more`) before it publishes
 * them anyway, so that a long drain hands buffers back while it runs.
 */
export const IOQ_COMPLETE_PUBLISH_BATCH = 32;

/**
 * The device's (south's) end of an IOQ: look at the next buffer the driver posted, and complete
 * it. Every value is read once from shared memory into plain fields and checked before use.
 *
 * Hot path. South keeps its inuse head privately (read and validated once, at attach). The
 * descriptor is read after the `Atomics.load` of `sown` that hands it over. Completions are
 * published in batches, as Linux's vhost publishes used entries: `complete(len, true)` writes the
 * length and, for every completion but a batch's first, a plain `sown = 0`; {@link publish}
 * writes the inuse head once, then the one `Atomics.store` of the batch's first `sown`, which
 * orders every write of the batch for north (north reclaims in order, so it reads none of the
 * later flags before that one). Per frame that saves a seq-cst store (a locked instruction that
 * waits for the descriptor's cache line to come back from the driver's core) and two writes to
 * the header line the driver writes on every post. On each publication the head word in shared
 * memory is checked against the one last published, so a guest that rewrote the index fails
 * the ring with the same rules as {@link IoqIterator.pop}.
 */
export class IoqDeviceQueue {
  readonly ioq: Ioq;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly wInuseHead: number;
  private readonly wInuseFull: number;
  /** Private inuse head: the slot {@link next} looks at. */
  private head: number;
  /** The inuse head as last written to shared memory. */
  private publishedHead: number;
  /** Completions not yet published, and the byte offset of the first one's `sown`. */
  private unpublished = 0;
  private firstSownAt = 0;
  /** {@link notifyInPass} deferred a signal whose completions wait for {@link settleDeferred}. */
  private deferredSignal = false;
  /** The current buffer, copied out by {@link next}. */
  ptr = 0;
  len = 0;
  cookie = 0;

  constructor(memory: GuestMemory, address: number, length: number, signal: Wake | ShmSignal, name: string, maxCount?: number) {
    this.ioq = Ioq.attach(memory, address, Side.South, signal, name, maxCount);
    if (Ioq.byteLength(this.ioq.count) > length)
      throw new RingError(name, -1, this.ioq.count, `ring of ${this.ioq.count} descriptors needs ${Ioq.byteLength(this.ioq.count)} bytes but the region has ${length}`);
    this.words = this.ioq.words;
    this.bytes = this.ioq.bytes;
    this.wInuseHead = (IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD) >> 2;
    this.wInuseFull = (IOQ_OFF_IDX_INUSE + IOQ_IDX_FULL) >> 2;
    this.head = this.publishedHead = this.ioq.readIndex(IoqIndex.Inuse, IOQ_IDX_HEAD);
  }

  /** The slot {@link next} looks at (the private inuse head), e.g. to name it in an error. */
  get position(): number {
    return this.head;
  }

  /**
   * If the driver has handed over a buffer, copy its descriptor into {@link ptr}, {@link len} and
   * {@link cookie} and return true. The buffer bytes are checked against guest memory by the
   * caller.
   */
  next(): boolean {
    const d = descWord(this.head);
    if (Atomics.load(this.bytes, (d << 2) + IOQ_DESC_SOWN) === 0) return false;
    const w = this.words;
    this.ptr = (w[d + W_PTR]! >>> 0) + (w[d + W_PTR + 1]! >>> 0) * TWO_32;
    this.len = (w[d + W_LEN]! >>> 0) + (w[d + W_LEN + 1]! >>> 0) * TWO_32;
    this.cookie = (w[d + W_COOKIE]! >>> 0) + (w[d + W_COOKIE + 1]! >>> 0) * TWO_32;
    return true;
  }

  /**
   * Give the current buffer back to the driver with `len` bytes written (for rx) or as consumed
   * (tx). With `more` the completion may stay unpublished (the driver does not see it) until
   * {@link publish}, {@link notify} or the {@link IOQ_COMPLETE_PUBLISH_BATCH}th completion.
   */
  complete(len: number, more = false): void {
    const q = this.ioq;
    const w = this.words;
    const bytes = this.bytes;
    const pos = this.head;
    const d = descWord(pos);
    const sownAt = (d << 2) + IOQ_DESC_SOWN;
    if (Atomics.load(bytes, sownAt) === 0) throw new RingError(q.name, pos, 0, 'pop of a descriptor this side does not own');
    w[d + W_LEN] = len >>> 0;
    w[d + W_LEN + 1] = high32(len);
    this.head = pos + 1 === q.count ? 0 : pos + 1;
    // the batch's first flag is stored last, by publish(); the others are ordered by it
    if (this.unpublished++ === 0) this.firstSownAt = sownAt;
    else bytes[sownAt] = 0;
    // a batch that covers the whole ring is published at once: its first flag, stored last, still
    // reads as the driver's, and the head is back on it, so next() would take it as a new buffer
    if (!more || this.unpublished >= IOQ_COMPLETE_PUBLISH_BATCH || this.unpublished === q.count) this.publish();
  }

  /** Publish the completions {@link complete} kept back (nothing if there are none). */
  publish(): void {
    if (this.unpublished === 0) return;
    const q = this.ioq;
    const w = this.words;
    const h = Atomics.load(w, this.wInuseHead) >>> 0;
    if (h !== this.publishedHead) {
      if (h >= q.count) throw new RingError(q.name, -1, h, `idx[${IoqIndex.Inuse}].head must be below count ${q.count}`);
      throw new RingError(q.name, this.publishedHead, h, 'pop is only allowed at the head');
    }
    w[this.wInuseHead] = this.head;
    w[this.wInuseFull] = 0;
    this.publishedHead = this.head;
    this.unpublished = 0;
    // the synchronisation point: the driver sees every len, flag and the head of the batch once
    // it sees the first flag at 0
    Atomics.store(this.bytes, this.firstSownAt, 0);
  }

  /** Publish, then signal the driver (suppressed if it is polling or already woken). */
  notify(): boolean {
    this.deferredSignal = false;
    this.publish();
    return this.ioq.signal.inject();
  }

  /**
   * A signal within a drain pass (a completion signal every N buffers). When the driver's
   * signal is still dirty, a run of its handler is already due and the signal would be
   * suppressed: it is counted as suppressed, and instead of publishing now the completions are
   * left to the batch's own publication (every {@link IOQ_COMPLETE_PUBLISH_BATCH}) or to
   * {@link settleDeferred} at the end of the pass. That spares the publication's write of the
   * inuse index, on the header line the driver writes with every post. Returns true if a signal
   * crossed, as {@link notify} does.
   */
  notifyInPass(): boolean {
    const signal = this.ioq.signal;
    if (signal.peerDirty) {
      signal.counters.suppressed++;
      this.deferredSignal = true;
      return false;
    }
    return this.notify();
  }

  /**
   * End a drain pass whose last signal {@link notifyInPass} deferred (nothing otherwise; a pass
   * with completions since its last signal ends with {@link notify} instead): publish, then
   * raise the deferred signal after all only if the driver's due run has happened meanwhile
   * (its dirty flag clear: that run may have missed these completions). The signal then leaves
   * the suppressed count it was put in, so a pass raises exactly one signal per N buffers.
   * Returns undefined when no signal was raised, else whether it crossed; a caller that counted
   * the deferred signal as suppressed takes that count back when a signal was raised.
   */
  settleDeferred(): boolean | undefined {
    if (!this.deferredSignal) return undefined;
    this.deferredSignal = false;
    this.publish();
    const signal = this.ioq.signal;
    if (signal.peerDirty) return undefined;
    signal.counters.suppressed--;
    return this.notify();
  }
}
