import { GuestAllocator, RegionMemory, le } from '@vbus/core';
import {
  PackedQueueDevice,
  PackedQueueDriver,
  SplitQueueDevice,
  SplitQueueDriver,
  VIRTQ_AVAIL_IDX,
  VIRTQ_AVAIL_RING,
  VIRTQ_DESC_ALIGN,
  VIRTQ_DESC_SIZE,
  VIRTQ_PACKED_DESC_F_AVAIL,
  VIRTQ_PACKED_DESC_F_USED,
  VIRTQ_USED_IDX,
  encodePackedDescriptor,
  encodeSplitDescriptor,
  usedEventOffset,
  availEventOffset,
  type PackedDescriptor,
  type PackedQueueAddresses,
  type Segment,
  type SplitDescriptor,
  type SplitQueueAddresses,
  type VirtqueueDevice,
  type VirtqueueDriver,
} from '../common/virtqueue/index.js';

/** Which ring layout. */
export type RingKind = 'split' | 'packed';

/** Options of the virtio mock driver: ring kind, queue size, features and memory placement. */
export interface MockDriverOptions {
  readonly kind?: RingKind;
  readonly size: number;
  readonly eventIdx?: boolean;
  readonly indirect?: boolean;
  /** Queue name used in errors (default `"mock.q0"`). */
  readonly name?: string;
  /** Guest address of the memory (default 0x10000, so that address 0 is outside it). */
  readonly base?: number;
  /** Bytes of guest memory (default: enough for the rings plus 1 MiB of buffers). */
  readonly memorySize?: number;
  /** Split only: first avail/used index, to test u16 wraparound. */
  readonly startIndex?: number;
  /** Split only: VIRTIO_F_IN_ORDER negotiated, for both halves. */
  readonly inOrder?: boolean;
}

/** A buffer returned by the device, with the bytes it wrote. */
export interface MockUsed<T> {
  readonly token: T;
  readonly len: number;
  /** Head index (split) or buffer id (packed) the buffer had in flight. */
  readonly id: number;
  /** The first `len` bytes of the writable segments, concatenated. */
  readonly written: Uint8Array;
}

interface Pending<T> {
  token: T;
  readable: Segment[];
  writable: Segment[];
}

/**
 * A virtio driver for tests: guest memory (a {@link RegionMemory}), an allocator, rings of
 * either layout driven by the real {@link SplitQueueDriver} / {@link PackedQueueDriver}, buffer
 * helpers, and raw pokes to build hostile rings by hand. `device()` makes the device half over the
 * same rings, so a device author can test a device against a driver in a few lines.
 */
export class MockDriver<T = number> {
  readonly memory: RegionMemory;
  readonly allocator: GuestAllocator;
  readonly kind: RingKind;
  readonly size: number;
  readonly name: string;
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  readonly driver: VirtqueueDriver<Pending<T>>;
  private readonly startIndex: number;
  /** VIRTIO_F_IN_ORDER (split). */
  readonly inOrder: boolean;

  constructor(options: MockDriverOptions) {
    this.kind = options.kind ?? 'split';
    this.size = options.size;
    this.name = options.name ?? 'mock.q0';
    this.eventIdx = options.eventIdx ?? false;
    this.indirect = options.indirect ?? false;
    this.startIndex = options.startIndex ?? 0;
    this.inOrder = options.inOrder ?? false;
    const base = options.base ?? 0x10000;
    const length = options.memorySize ?? 64 * this.size + 0x1000 + (1 << 20);
    this.memory = RegionMemory.create(base, length);
    this.allocator = new GuestAllocator(base, length);
    const common = { name: this.name, memory: this.memory, size: this.size, eventIdx: this.eventIdx, indirect: this.indirect, allocator: this.allocator };
    this.driver =
      this.kind === 'split'
        ? SplitQueueDriver.allocate<Pending<T>>({ ...common, startIndex: this.startIndex, inOrder: this.inOrder })
        : PackedQueueDriver.allocate<Pending<T>>(common);
  }

  /** Guest addresses of the split rings (throws for a packed mock). */
  get split(): SplitQueueAddresses {
    if (!(this.driver instanceof SplitQueueDriver)) throw new Error('not a split ring');
    return this.driver.addresses;
  }
  /** Guest addresses of the packed ring areas (throws for a split mock). */
  get packed(): PackedQueueAddresses {
    if (!(this.driver instanceof PackedQueueDriver)) throw new Error('not a packed ring');
    return this.driver.addresses;
  }

  /** The device half over the same rings, with the same features. */
  device(name = this.name): VirtqueueDevice {
    const common = { name, memory: this.memory, size: this.size, eventIdx: this.eventIdx, indirect: this.indirect };
    return this.kind === 'split'
      ? new SplitQueueDevice({ ...common, ...this.split, nextAvail: this.startIndex, nextUsed: this.startIndex, inOrder: this.inOrder })
      : new PackedQueueDevice({ ...common, ...this.packed });
  }

  // --- buffers -------------------------------------------------------------------------------

  /** Allocate `len` bytes of guest memory (8-aligned). */
  alloc(len: number, align = 8): number {
    return this.allocator.alloc(Math.max(1, len), align);
  }

  /**
   * Allocate one segment per `readable` array (filled with it) and per `writableLens` entry
   * (zeroed), and add them as one buffer. False if the ring is full (nothing stays allocated).
   */
  addBuffer(readable: readonly Uint8Array[], writableLens: readonly number[], token: T, options?: { indirect?: boolean; more?: boolean }): boolean {
    const r: Segment[] = readable.map((bytes) => {
      const addr = this.alloc(bytes.length);
      this.memory.write(addr, bytes);
      return { addr, len: bytes.length };
    });
    const w: Segment[] = writableLens.map((len) => {
      const addr = this.alloc(len);
      this.memory.view(addr, Math.max(1, len)).fill(0);
      return { addr, len };
    });
    const p: Pending<T> = { token, readable: r, writable: w };
    const ok = this.driver.add(r, w, p, options);
    if (!ok) this.release(p);
    return ok;
  }

  /** The next used buffer with the bytes the device wrote; its segments are freed. */
  getUsed(): MockUsed<T> | null {
    const u = this.driver.getUsed();
    if (u === null) return null;
    const p = u.token;
    const len = u.len;
    const id = u.id;
    const written = new Uint8Array(
      Math.min(
        len,
        p.writable.reduce((s, seg) => s + seg.len, 0),
      ),
    );
    let at = 0;
    for (const seg of p.writable) {
      if (at === written.length) break;
      const k = Math.min(seg.len, written.length - at);
      if (k === 0) continue;
      written.set(this.memory.view(seg.addr, k), at);
      at += k;
    }
    this.release(p);
    return { token: p.token, len, id, written };
  }

  private release(p: Pending<T>): void {
    for (const seg of p.readable) this.allocator.release(seg.addr);
    for (const seg of p.writable) this.allocator.release(seg.addr);
  }

  // --- raw pokes, for hostile rings ------------------------------------------------------------

  /** Write a u16 of guest memory at `addr` (hostile rings: no check). */
  pokeU16(addr: number, v: number): void {
    le.setU16(this.memory.view(addr, 2), 0, v);
  }
  /** Write a u32 of guest memory at `addr` (hostile rings: no check). */
  pokeU32(addr: number, v: number): void {
    le.setU32(this.memory.view(addr, 4), 0, v);
  }
  /** Write a u64 of guest memory at `addr` (hostile rings: no check). */
  pokeU64(addr: number, v: number): void {
    le.setU64(this.memory.view(addr, 8), 0, v);
  }
  /** Read a u16 of guest memory at `addr`. */
  peekU16(addr: number): number {
    return le.getU16(this.memory.view(addr, 2), 0);
  }

  /** Split: write descriptor `i` of the table directly. */
  writeDescriptor(i: number, d: SplitDescriptor): void {
    encodeSplitDescriptor(this.memory.view(this.split.descTable + i * VIRTQ_DESC_SIZE, VIRTQ_DESC_SIZE), 0, d);
  }
  /**
   * Write an indirect table anywhere in memory; returns its address. Entries are encoded in this
   * ring's layout: split `{addr, len, flags, next}`, or packed `{addr, len, id 0, flags}` (where
   * `next` is dropped).
   */
  writeIndirectTable(descs: readonly SplitDescriptor[]): number {
    const addr = this.alloc(descs.length * VIRTQ_DESC_SIZE, VIRTQ_DESC_ALIGN);
    const v = this.memory.view(addr, descs.length * VIRTQ_DESC_SIZE);
    descs.forEach((d, k) =>
      this.kind === 'split'
        ? encodeSplitDescriptor(v, k * VIRTQ_DESC_SIZE, d)
        : encodePackedDescriptor(v, k * VIRTQ_DESC_SIZE, { addr: d.addr, len: d.len, id: 0, flags: d.flags }),
    );
    return addr;
  }
  /** Split: put `head` in the next avail slot and bump avail.idx (raw; bypasses the driver). */
  publish(head: number): void {
    const a = this.split.availRing;
    const idx = this.peekU16(a + VIRTQ_AVAIL_IDX);
    this.pokeU16(a + VIRTQ_AVAIL_RING + 2 * (idx % this.size), head);
    this.pokeU16(a + VIRTQ_AVAIL_IDX, (idx + 1) & 0xffff);
  }
  /** Split: set avail.idx directly. */
  setAvailIdx(v: number): void {
    this.pokeU16(this.split.availRing + VIRTQ_AVAIL_IDX, v);
  }
  /** Split: used.idx as the device published it. */
  usedIdx(): number {
    return this.peekU16(this.split.usedRing + VIRTQ_USED_IDX);
  }
  /** Split: used_event as the driver wrote it. */
  usedEvent(): number {
    return this.peekU16(this.split.availRing + usedEventOffset(this.size));
  }
  /** Split: avail_event as the device wrote it. */
  availEvent(): number {
    return this.peekU16(this.split.usedRing + availEventOffset(this.size));
  }

  /** Packed: write descriptor `i` of the ring directly (flags included). */
  writePackedDescriptor(i: number, d: PackedDescriptor): void {
    encodePackedDescriptor(this.memory.view(this.packed.descRing + i * VIRTQ_DESC_SIZE, VIRTQ_DESC_SIZE), 0, d);
  }
  /** Packed: the AVAIL/USED bits that make a descriptor available under wrap counter `wrap`. */
  static packedAvail(wrap: 0 | 1): number {
    return wrap ? VIRTQ_PACKED_DESC_F_AVAIL : VIRTQ_PACKED_DESC_F_USED;
  }

  /** Every ring byte, for corruption tests: [address, length] of each area. */
  ringAreas(): Array<[number, number]> {
    if (this.kind === 'split') {
      const s = this.split;
      return [
        [s.descTable, 16 * this.size],
        [s.availRing, 6 + 2 * this.size],
        [s.usedRing, 6 + 8 * this.size],
      ];
    }
    const p = this.packed;
    return [
      [p.descRing, 16 * this.size],
      [p.driverEvent, 4],
      [p.deviceEvent, 4],
    ];
  }
}
