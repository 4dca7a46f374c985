import { RingError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { HOST_LITTLE_ENDIAN, getU32, getU64, setU32, setU64 } from '../memory/le.js';
import { ShmSignal, type Wake } from '../signal/shm-signal.js';
import { Side } from '../signal/layout.js';
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
  IOQ_ITER_AUTOUPDATE,
  IOQ_ITER_NOFLIPOWNER,
  IOQ_MAGIC,
  IOQ_MAX_COUNT,
  IOQ_OFF_COUNT,
  IOQ_OFF_IDX_INUSE,
  IOQ_OFF_IDX_VALID,
  IOQ_OFF_MAGIC,
  IOQ_OFF_SIGNAL,
  IOQ_OFF_VERSION,
  IOQ_VERSION,
  IoqIndex,
  IoqSeek,
  ioqByteLength,
} from './layout.js';

/**
 * An IOQ ring seen from one side. North (the driver) formats it in its own memory; south (the
 * device) attaches to it and treats every value in it as hostile: the count is read once and
 * kept privately, every index read is checked against it, and a failed check raises
 * {@link RingError} naming the ring, the index and the rule.
 */
export class Ioq {
  /** Number of descriptors, fixed at attach time (never re-read from shared memory). */
  readonly count: number;
  /** The ring's signal endpoint for this side. */
  readonly signal: ShmSignal;
  /** The bytes of the whole ring (header and descriptors). */
  readonly bytes: Uint8Array;
  /** @internal Int32 view of the whole ring: Atomics on indices, descriptor words on the hot path. */
  readonly words: Int32Array;

  private constructor(
    readonly memory: GuestMemory,
    readonly address: number,
    readonly side: Side,
    readonly name: string,
    count: number,
    wake: Wake | ShmSignal,
  ) {
    this.count = count;
    this.bytes = memory.view(address, ioqByteLength(count));
    this.words = memory.int32(address, ioqByteLength(count) >> 2);
    // An endpoint the caller already holds (the one the bus wired for this ring) is used as is,
    // so its counters are the ones introspection shows.
    this.signal = ShmSignal.is(wake) ? wake : new ShmSignal(memory.int32(address + IOQ_OFF_SIGNAL, 8), side, wake, `${name}.signal`);
  }

  /** Bytes a ring of `count` descriptors occupies. */
  static byteLength(count: number): number {
    return ioqByteLength(count);
  }

  /**
   * Lay out a fresh ring at `address` (north does this in its own memory): header, signal, all
   * descriptors zeroed and owned by north.
   */
  static format(memory: GuestMemory, address: number, count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > IOQ_MAX_COUNT)
      throw new RingError(`ioq@0x${address.toString(16)}`, -1, count, `count must be an integer in [1, ${IOQ_MAX_COUNT}]`);
    const b = memory.view(address, ioqByteLength(count));
    b.fill(0);
    ShmSignal.format(memory.int32(address + IOQ_OFF_SIGNAL, 8));
    setU32(b, IOQ_OFF_VERSION, IOQ_VERSION);
    setU32(b, IOQ_OFF_COUNT, count);
    Atomics.store(memory.int32(address, 1), 0, IOQ_MAGIC | 0);
  }

  /**
   * Attach to a ring at `address`. Checks magic, version and count, and that the whole ring lies
   * in guest memory. `wake` is how this side wakes the other, or this side's endpoint of the
   * ring's embedded signal if the caller already has one.
   */
  static attach(memory: GuestMemory, address: number, side: Side, wake: Wake | ShmSignal, name = `ioq@0x${address.toString(16)}`, maxCount = IOQ_MAX_COUNT): Ioq {
    // index, flag and descriptor words are touched as host-order Int32 cells (for Atomics), which
    // matches the little-endian ABI only on a little-endian host
    if (!HOST_LITTLE_ENDIAN) throw new RingError(name, -1, 0, 'IOQ rings need a little-endian host (the ABI is little-endian and is accessed as host-order words)');
    if (address % 8 !== 0) throw new RingError(name, -1, address, 'ring address must be 8-byte aligned');
    if (!memory.contains(address, IOQ_HEADER_SIZE)) throw new RingError(name, -1, address, 'ring header is not inside guest memory');
    const h = memory.view(address, IOQ_HEADER_SIZE);
    const magic = getU32(h, IOQ_OFF_MAGIC);
    if (magic !== IOQ_MAGIC) throw new RingError(name, -1, magic, `magic must be 0x${IOQ_MAGIC.toString(16)}`);
    const version = getU32(h, IOQ_OFF_VERSION);
    if (version !== IOQ_VERSION) throw new RingError(name, -1, version, `version must be ${IOQ_VERSION}`);
    const count = getU32(h, IOQ_OFF_COUNT);
    if (count < 1 || count > maxCount) throw new RingError(name, -1, count, `count must be in [1, ${maxCount}]`);
    if (!memory.contains(address, ioqByteLength(count))) throw new RingError(name, -1, count, `ring of ${count} descriptors runs past the end of its memory region`);
    return new Ioq(memory, address, side, name, count, wake);
  }

  /** An iterator over index `index` with flags {@link IOQ_ITER_AUTOUPDATE} / {@link IOQ_ITER_NOFLIPOWNER}. */
  iterator(index: IoqIndex, flags = 0): IoqIterator {
    return new IoqIterator(this, index, flags);
  }

  /** Mask this side's signal: poll instead of being woken. */
  notifyDisable(): void {
    this.signal.disable();
  }
  /** Unmask this side's signal; if work arrived while masked, the handler runs now. */
  notifyEnable(): void {
    this.signal.enable();
  }

  /** @internal read an index word (validated < count). */
  readIndex(index: IoqIndex, field: number): number {
    const off = (index === IoqIndex.Valid ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE) + field;
    const v = Atomics.load(this.words, off >> 2) >>> 0;
    if (v >= this.count)
      throw new RingError(this.name, -1, v, `idx[${index}].${field === IOQ_IDX_HEAD ? 'head' : field === IOQ_IDX_TAIL ? 'tail' : 'full'} must be below count ${this.count}`);
    return v;
  }
  /** @internal */
  writeIndex(index: IoqIndex, field: number, v: number): void {
    const off = (index === IoqIndex.Valid ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE) + field;
    Atomics.store(this.words, off >> 2, v);
  }
  /** True if the index's full flag is set. */
  isFull(index: IoqIndex): boolean {
    const off = (index === IoqIndex.Valid ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE) + IOQ_IDX_FULL;
    return Atomics.load(this.words, off >> 2) !== 0;
  }

  /** Byte offset of descriptor `i` inside {@link bytes}. */
  descOffset(i: number): number {
    return IOQ_HEADER_SIZE + i * IOQ_DESC_SIZE;
  }
  /** True if south owns descriptor `i`. */
  sown(i: number): boolean {
    return Atomics.load(this.bytes, this.descOffset(i) + IOQ_DESC_SOWN) !== 0;
  }
  /** True if this side owns descriptor `i`. */
  owned(i: number): boolean {
    return this.sown(i) === (this.side === Side.South);
  }
}

/**
 * A cursor over one index of a ring, as in vbus: seek, inspect the descriptor under the cursor,
 * then push (at the tail) or pop (at the head). The cursor position is private to this side;
 * positions read from shared memory are validated.
 */
export class IoqIterator {
  /** Current slot. */
  pos = 0;
  private readonly autoUpdate: boolean;
  private readonly flipOwner: boolean;

  constructor(
    readonly ioq: Ioq,
    readonly index: IoqIndex,
    readonly flags: number,
  ) {
    this.autoUpdate = (flags & IOQ_ITER_AUTOUPDATE) !== 0;
    this.flipOwner = (flags & IOQ_ITER_NOFLIPOWNER) === 0;
  }

  /** Move the cursor: to the index's head or tail (read from shared memory), one step on, or to `pos`. */
  seek(where: IoqSeek, pos = 0): this {
    const q = this.ioq;
    switch (where) {
      case IoqSeek.Head:
        this.pos = q.readIndex(this.index, IOQ_IDX_HEAD);
        break;
      case IoqSeek.Tail:
        this.pos = q.readIndex(this.index, IOQ_IDX_TAIL);
        break;
      case IoqSeek.Next:
        this.pos = this.pos + 1 === q.count ? 0 : this.pos + 1;
        break;
      case IoqSeek.Set:
        if (!Number.isInteger(pos) || pos < 0 || pos >= q.count) throw new RingError(q.name, pos, pos, `seek position must be in [0, ${q.count})`);
        this.pos = pos;
        break;
    }
    return this;
  }

  /** True if the descriptor under the cursor is owned by this side. */
  get owned(): boolean {
    return this.ioq.owned(this.pos);
  }
  /** True if the descriptor under the cursor is owned by south. */
  get sown(): boolean {
    return this.ioq.sown(this.pos);
  }
  /** The descriptor's fields. Host code reads each once and checks it (guest memory is hostile). */
  get cookie(): number {
    return getU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_COOKIE);
  }
  set cookie(v: number) {
    setU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_COOKIE, v);
  }
  get ptr(): number {
    return getU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_PTR);
  }
  set ptr(v: number) {
    setU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_PTR, v);
  }
  get len(): number {
    return getU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_LEN);
  }
  set len(v: number) {
    setU64(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_LEN, v);
  }
  get valid(): boolean {
    return Atomics.load(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_VALID) !== 0;
  }
  set valid(v: boolean) {
    Atomics.store(this.ioq.bytes, this.ioq.descOffset(this.pos) + IOQ_DESC_VALID, v ? 1 : 0);
  }

  /**
   * Hand the descriptor under the cursor on: only at the index's tail and only when this side
   * owns it. Advances the tail, sets full when it meets the head, then (after the descriptor
   * writes, which Atomics orders) flips ownership and signals if AUTOUPDATE.
   *
   * On a bookkeeping iterator (NOFLIPOWNER, e.g. north's valid index) ownership cannot tell a
   * free slot from a returned-but-unreclaimed one, so a full index is refused there, and pop
   * refuses an empty one; that index has a single writer, so its `full` flag is exact. On a
   * flipping iterator the other side writes head or tail concurrently and `full` can be stale
   * for an instant, so ownership alone decides (it is what the two sides synchronise on).
   */
  push(): void {
    const q = this.ioq;
    const tail = q.readIndex(this.index, IOQ_IDX_TAIL);
    if (this.pos !== tail) throw new RingError(q.name, this.pos, tail, 'push is only allowed at the tail');
    if (!q.owned(this.pos)) throw new RingError(q.name, this.pos, q.sown(this.pos) ? 1 : 0, 'push of a descriptor this side does not own');
    // north owns free and returned-but-unreclaimed slots alike, so ownership cannot tell full;
    // full counts only with tail == head (the other side may have just popped and cleared it)
    if (!this.flipOwner && q.isFull(this.index) && q.readIndex(this.index, IOQ_IDX_HEAD) === tail) throw new RingError(q.name, this.pos, 1, 'push into a full index');
    const next = tail + 1 === q.count ? 0 : tail + 1;
    q.writeIndex(this.index, IOQ_IDX_TAIL, next);
    if (next === q.readIndex(this.index, IOQ_IDX_HEAD)) q.writeIndex(this.index, IOQ_IDX_FULL, 1);
    if (this.flipOwner) this.flip();
    this.pos = next;
    if (this.autoUpdate) q.signal.inject();
  }

  /**
   * Take the descriptor under the cursor back: only at the index's head and only when this side
   * owns it. Advances the head, clears full, flips ownership and signals if AUTOUPDATE.
   */
  pop(): void {
    const q = this.ioq;
    const head = q.readIndex(this.index, IOQ_IDX_HEAD);
    if (this.pos !== head) throw new RingError(q.name, this.pos, head, 'pop is only allowed at the head');
    if (!q.owned(this.pos)) throw new RingError(q.name, this.pos, q.sown(this.pos) ? 1 : 0, 'pop of a descriptor this side does not own');
    if (!this.flipOwner && !q.isFull(this.index) && q.readIndex(this.index, IOQ_IDX_TAIL) === head) throw new RingError(q.name, this.pos, head, 'pop from an empty index');
    const next = head + 1 === q.count ? 0 : head + 1;
    q.writeIndex(this.index, IOQ_IDX_HEAD, next);
    q.writeIndex(this.index, IOQ_IDX_FULL, 0);
    if (this.flipOwner) this.flip();
    this.pos = next;
    if (this.autoUpdate) q.signal.inject();
  }

  private flip(): void {
    const q = this.ioq;
    const off = q.descOffset(this.pos) + IOQ_DESC_SOWN;
    Atomics.store(q.bytes, off, q.side === Side.South ? 0 : 1);
  }
}
