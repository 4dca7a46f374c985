/**
 * Guest memory: the address space the driver ("north") owns and shares with the device
 * ("south"). Everything above this layer reaches guest bytes only through this interface, so an
 * embedder can hand in its own memory (an emulator's RAM) and rings and devices work unchanged.
 *
 * Addresses and lengths are JavaScript numbers (exact up to 2^53). A guest-provided 64-bit value
 * above that is simply out of every region and fails the bounds check.
 */
export interface GuestMemory {
  /**
   * A view of `length` bytes at `address`, without copying. The whole range must lie in one
   * region; otherwise a {@link MemoryAccessError} is thrown. Writes through the view reach the guest.
   */
  view(address: number, length: number): Uint8Array;
  /** True if `[address, address+length)` lies inside one region. Never throws. */
  contains(address: number, length: number): boolean;
  /** Copy `length` bytes out of guest memory (a snapshot the guest can no longer change). */
  read(address: number, length: number): Uint8Array;
  /** Copy bytes into guest memory. */
  write(address: number, bytes: Uint8Array): void;
  /**
   * Copy `length` guest bytes at `address` into `target[targetOffset, targetOffset+length)`.
   * The hot-path form of `target.set(view(address, length), targetOffset)`: the same bounds
   * rules as {@link view} (a {@link MemoryAccessError} if the range is not inside one region),
   * a `RangeError` if the target range does not fit `target`, and no view is allocated.
   */
  copyOut(address: number, target: Uint8Array, targetOffset: number, length: number): void;
  /**
   * Copy `source[sourceOffset, sourceOffset+length)` into guest memory at `address`. The
   * hot-path form of `view(address, length).set(source.subarray(...))`; bounds as {@link copyOut}.
   */
  copyIn(address: number, source: Uint8Array, sourceOffset: number, length: number): void;
  /**
   * Copy `length` bytes from guest address `src` to guest address `dst` (each range inside one
   * region; the two may be in different regions; overlapping ranges copy as memmove does).
   */
  copyWithin(dst: number, src: number, length: number): void;
  /**
   * Int32 cells over `[address, address + 4*count)` for `Atomics` (the address must be
   * 4-aligned and the region must be backed by a SharedArrayBuffer to work across threads).
   */
  int32(address: number, count: number): Int32Array;
  /** The regions, for introspection and for sharing them with another thread. */
  regions(): readonly MemoryRegion[];
}

/** One contiguous range of guest memory backed by a buffer. */
export interface MemoryRegion {
  /** Guest address of the first byte. */
  readonly address: number;
  /** Length in bytes. */
  readonly length: number;
  /** The backing store. A SharedArrayBuffer for memory shared across threads. */
  readonly buffer: ArrayBufferLike;
  /** Byte offset of the region inside `buffer`. */
  readonly offset: number;
}
