import { RegionMemory } from '../common/memory/region-memory.js';
import { GuestAllocator } from '../common/memory/allocator.js';
import { getU32, getU64Big, setU32, setU64Big, setU8 } from '../common/memory/le.js';
import { Ioq, type IoqIterator } from '../common/ioq/ioq.js';
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
  IOQ_OFF_COUNT,
  IOQ_OFF_IDX_INUSE,
  IOQ_OFF_IDX_VALID,
  IOQ_OFF_MAGIC,
  IOQ_OFF_SIGNAL,
  IOQ_OFF_VERSION,
  IoqIndex,
  IoqSeek,
  ioqByteLength,
} from '../common/ioq/layout.js';
import { SHM_SIGNAL_OFF_SIDES, SHM_SIGNAL_SIDE_DIRTY, SHM_SIGNAL_SIDE_ENABLED, SHM_SIGNAL_SIDE_PENDING, SHM_SIGNAL_SIDE_SIZE, Side } from '../common/signal/layout.js';
import type { Wake } from '../common/signal/shm-signal.js';

/** Options of the IOQ mock driver: ring and buffer placement, sizes and names. */
export interface IoqMockDriverOptions {
  /** Descriptors in the ring (default 16). */
  count?: number;
  /** Guest address of the ring (default 0x1_0000). Its region is exactly the ring's size. */
  ringAddress?: number;
  /** Guest address of the buffer region (default 0x10_0000), a separate region. */
  bufferAddress?: number;
  /** Bytes in the buffer region (default 64 KiB). */
  bufferSpace?: number;
  /** Ring name used in errors (default "mock"). */
  name?: string;
  /** Signal south on every push (AUTOUPDATE on the inuse iterator; default true). */
  autoUpdate?: boolean;
}

/** A buffer north handed to south. */
export interface MockBuffer {
  slot: number;
  cookie: number;
  ptr: number;
  len: number;
}

/** A ring header field the mock driver can overwrite with a hostile value. */
export type IoqHeaderField = 'magic' | 'version' | 'count';
/** A field of a ring index the mock driver can overwrite with a hostile value. */
export type IoqIndexField = 'head' | 'tail' | 'full';
/** A descriptor field the mock driver can overwrite with a hostile value. */
export type IoqDescField = 'cookie' | 'ptr' | 'len' | 'valid' | 'sown';
/** A field of an shm-signal side record the mock driver can overwrite with a hostile value. */
export type SignalField = 'enabled' | 'pending' | 'dirty';

const INDEX_FIELD = { head: IOQ_IDX_HEAD, tail: IOQ_IDX_TAIL, full: IOQ_IDX_FULL } as const;
const HEADER_FIELD = { magic: IOQ_OFF_MAGIC, version: IOQ_OFF_VERSION, count: IOQ_OFF_COUNT } as const;
const DESC_FIELD = { cookie: IOQ_DESC_COOKIE, ptr: IOQ_DESC_PTR, len: IOQ_DESC_LEN, valid: IOQ_DESC_VALID, sown: IOQ_DESC_SOWN } as const;
const SIGNAL_FIELD = { enabled: SHM_SIGNAL_SIDE_ENABLED, pending: SHM_SIGNAL_SIDE_PENDING, dirty: SHM_SIGNAL_SIDE_DIRTY } as const;

/**
 * The north side (driver) of an IOQ ring, for testing a device (south) against it. It formats a
 * ring in its own {@link RegionMemory} (the ring's region is exactly the ring's size, so a device
 * that reads past the ring gets a MemoryAccessError instead of stray bytes), pushes buffers the
 * way venet's driver does (fill the descriptor at the valid tail, push the valid index without
 * flipping ownership, push the inuse index, which hands the descriptor to south and signals),
 * reclaims the ones south gave back, and writes hostile values straight into the ring.
 *
 * ```ts
 * const driver = new IoqMockDriver({ count: 8 });
 * const ring = driver.attachSouth();            // the device's view
 * driver.onSouthWake = () => ring.signal.wakeup();
 * driver.push({ data: Uint8Array.of(1, 2, 3) });
 * driver.pokeIndex(IoqIndex.Inuse, 'tail', 99);  // and see the device fail cleanly
 * ```
 */
export class IoqMockDriver {
  readonly memory: RegionMemory;
  /** North's view of the ring. */
  readonly ring: Ioq;
  /** Allocates buffer space in the buffer region. */
  readonly allocator: GuestAllocator;
  readonly address: number;
  readonly count: number;
  /** Signals north sent that crossed to south. */
  southWakes = 0;
  /** Called when a signal from north crosses to south; wire it to the device's wakeup. */
  onSouthWake: () => void = () => {};
  /** Buffers handed out and not yet reclaimed, by slot. */
  readonly outstanding = new Map<number, MockBuffer>();
  private readonly allocated = new Set<number>();
  private readonly valid: IoqIterator;
  private readonly inuse: IoqIterator;
  private nextCookie = 1;

  constructor(options: IoqMockDriverOptions = {}) {
    const count = options.count ?? 16;
    this.address = options.ringAddress ?? 0x1_0000;
    const bufferAddress = options.bufferAddress ?? 0x10_0000;
    const bufferSpace = options.bufferSpace ?? 0x1_0000;
    this.count = count;
    this.memory = new RegionMemory();
    this.memory.addRegion(this.address, new SharedArrayBuffer(ioqByteLength(count)));
    this.memory.addRegion(bufferAddress, new SharedArrayBuffer(bufferSpace));
    this.allocator = new GuestAllocator(bufferAddress, bufferSpace);
    Ioq.format(this.memory, this.address, count);
    const wake: Wake = () => {
      this.southWakes++;
      this.onSouthWake();
    };
    this.ring = Ioq.attach(this.memory, this.address, Side.North, wake, options.name ?? 'mock');
    this.valid = this.ring.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER);
    this.inuse = this.ring.iterator(IoqIndex.Inuse, options.autoUpdate === false ? 0 : IOQ_ITER_AUTOUPDATE);
  }

  /**
   * Attach the device's (south's) view of the ring. `wake` is how south wakes north; by default
   * it runs north's signal wakeup directly.
   */
  attachSouth(wake: Wake = () => this.ring.signal.wakeup(), name = this.ring.name): Ioq {
    return Ioq.attach(this.memory, this.address, Side.South, wake, name);
  }

  /** Descriptors north can still push (the valid index is not full). */
  get free(): number {
    return this.count - this.outstanding.size;
  }

  /**
   * Hand a buffer to south. With `data` or `len` and no `ptr`, buffer space is allocated (and
   * released on reclaim) and `data` copied in. Throws the ring's RingError when the ring is full.
   */
  push(buffer: { data?: Uint8Array; len?: number; ptr?: number; cookie?: number } = {}): MockBuffer {
    const len = buffer.len ?? buffer.data?.length ?? 0;
    this.valid.seek(IoqSeek.Tail);
    this.inuse.seek(IoqSeek.Tail);
    let ptr = buffer.ptr;
    let allocated = false;
    if (ptr === undefined) {
      ptr = len > 0 ? this.allocator.alloc(len) : 0;
      allocated = len > 0;
    }
    if (buffer.data) this.memory.write(ptr, buffer.data);
    const cookie = buffer.cookie ?? this.nextCookie++;
    const slot = this.valid.pos;
    try {
      // the descriptor is north's until inuse.push() flips it; valid.push() refuses a full index
      this.valid.cookie = cookie;
      this.valid.ptr = ptr;
      this.valid.len = len;
      this.valid.valid = true;
      this.valid.push();
    } catch (e) {
      if (allocated) this.allocator.release(ptr);
      throw e;
    }
    if (allocated) this.allocated.add(ptr);
    const b: MockBuffer = { slot, cookie, ptr, len };
    this.outstanding.set(slot, b);
    this.inuse.push();
    return b;
  }

  /** Push until the ring is full; returns the buffers pushed. */
  fill(len = 64): MockBuffer[] {
    const out: MockBuffer[] = [];
    while (this.free > 0) out.push(this.push({ len }));
    return out;
  }

  /**
   * Take back every buffer south has returned, in ring order: from the valid head while north
   * owns the descriptor and the valid index is not empty. The returned `len` is the descriptor's
   * as south left it.
   */
  reclaim(): MockBuffer[] {
    const out: MockBuffer[] = [];
    const it = this.ring.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER);
    for (let n = 0; n < this.count; n++) {
      it.seek(IoqSeek.Head);
      const empty = it.pos === this.ring.readIndex(IoqIndex.Valid, IOQ_IDX_TAIL) && !this.ring.isFull(IoqIndex.Valid);
      if (empty || !it.owned) break;
      const b = this.outstanding.get(it.pos);
      const done: MockBuffer = { slot: it.pos, cookie: it.cookie, ptr: b?.ptr ?? it.ptr, len: it.len };
      it.valid = false;
      it.pop();
      this.outstanding.delete(done.slot);
      if (b && this.allocated.delete(b.ptr)) this.allocator.release(b.ptr);
      out.push(done);
    }
    return out;
  }

  /** Bytes of a buffer as they are now in guest memory. */
  bytesOf(b: MockBuffer, len = b.len): Uint8Array {
    return this.memory.read(b.ptr, len);
  }

  // ---- hostile pokes: raw writes, no checks, for testing how a device copes ----

  /** Byte offset of a descriptor field inside the ring. */
  descOffset(slot: number, field: IoqDescField): number {
    return IOQ_HEADER_SIZE + slot * IOQ_DESC_SIZE + DESC_FIELD[field];
  }

  /** Overwrite magic, version or count in the header. */
  pokeHeader(field: IoqHeaderField, value: number): void {
    setU32(this.ring.bytes, HEADER_FIELD[field], value >>> 0);
  }

  /** Overwrite head, tail or full of an index. */
  pokeIndex(index: IoqIndex, field: IoqIndexField, value: number): void {
    const base = index === IoqIndex.Valid ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE;
    setU32(this.ring.bytes, base + INDEX_FIELD[field], value >>> 0);
  }

  /** Read an index field raw (no validation). */
  peekIndex(index: IoqIndex, field: IoqIndexField): number {
    const base = index === IoqIndex.Valid ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE;
    return getU32(this.ring.bytes, base + INDEX_FIELD[field]);
  }

  /** Overwrite a descriptor field: u64 for cookie/ptr/len (number or bigint), u8 for valid/sown. */
  pokeDesc(slot: number, field: IoqDescField, value: number | bigint): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.count) throw new RangeError(`slot ${slot} is not in [0, ${this.count})`);
    const o = this.descOffset(slot, field);
    if (field === 'valid' || field === 'sown') setU8(this.ring.bytes, o, Number(value) & 0xff);
    else setU64Big(this.ring.bytes, o, BigInt.asUintN(64, BigInt(value)));
  }

  /** Read a descriptor field raw. */
  peekDesc(slot: number, field: IoqDescField): bigint {
    const o = this.descOffset(slot, field);
    return field === 'valid' || field === 'sown' ? BigInt(this.ring.bytes[o]!) : getU64Big(this.ring.bytes, o);
  }

  /** Overwrite a word of the ring's shm-signal record for `side`. */
  pokeSignal(side: Side, field: SignalField, value: number): void {
    setU32(this.ring.bytes, IOQ_OFF_SIGNAL + SHM_SIGNAL_OFF_SIDES + side * SHM_SIGNAL_SIDE_SIZE + SIGNAL_FIELD[field], value >>> 0);
  }

  /** Write raw bytes at a byte offset inside the ring (header and descriptors). */
  pokeBytes(offset: number, bytes: Uint8Array): void {
    this.memory.write(this.address + offset, bytes);
  }
}
