import { RingError, type GuestAllocator, type GuestMemory } from '@vbus/core';

/**
 * One ring area (descriptor table, avail ring, used ring, event suppression area) mapped once
 * when the queue is set up. The u16 index and flag words that publish work to the other side are
 * accessed with `Atomics` (sequentially consistent: a release on store, an acquire on load, and a
 * full fence between a store and a later load), so the rings work across worker threads over a
 * SharedArrayBuffer. Everything else is plain byte access. Offsets are trusted (computed by the
 * queue from its size, never read from the guest).
 */
export class RingArea {
  readonly bytes: Uint8Array;
  private readonly u16: Uint16Array | null;
  /**
   * The area as little-endian u32 words, for reading descriptors four bytes per load instead of
   * one (null when the area is not 4-aligned or the host is big-endian: callers use `bytes`).
   */
  readonly u32: Uint32Array | null;

  constructor(
    readonly memory: GuestMemory,
    readonly address: number,
    readonly length: number,
  ) {
    this.bytes = memory.view(address, length);
    const b = this.bytes;
    this.u16 = b.byteOffset % 2 === 0 ? new Uint16Array(b.buffer, b.byteOffset, length >>> 1) : null;
    this.u32 = b.byteOffset % 4 === 0 && LITTLE_ENDIAN ? new Uint32Array(b.buffer, b.byteOffset, length >>> 2) : null;
  }

  /**
   * Map `[address, address+length)` for queue `ring`, checking that it lies in guest memory and
   * is aligned; a guest-supplied ring address that breaks this is a {@link RingError}.
   */
  static map(memory: GuestMemory, ring: string, what: string, address: number, length: number, align: number): RingArea {
    if (!Number.isSafeInteger(address) || address < 0 || address % align !== 0)
      throw new RingError(ring, -1, address, `${what} address must be ${align}-byte aligned (virtio 1.2 §2.7.10.1/§2.8.10.1)`);
    if (!memory.contains(address, length)) throw new RingError(ring, -1, address, `${what} (${length} bytes) is not inside guest memory`);
    return new RingArea(memory, address, length);
  }

  /** Atomic little-endian u16 load at an even offset (acquire). */
  load16(offset: number): number {
    const u = this.u16;
    if (u !== null && LITTLE_ENDIAN) return Atomics.load(u, offset >>> 1);
    const b = this.bytes;
    return b[offset]! | (b[offset + 1]! << 8);
  }

  /** Atomic little-endian u16 store at an even offset (release + fence). */
  store16(offset: number, value: number): void {
    const u = this.u16;
    if (u !== null && LITTLE_ENDIAN) {
      Atomics.store(u, offset >>> 1, value);
      return;
    }
    const b = this.bytes;
    b[offset] = value;
    b[offset + 1] = value >>> 8;
  }
}

/** Typed arrays use the platform byte order; the atomic path is taken only where that is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Allocate `size` bytes aligned to `align` for a ring area and zero them (a driver's fresh ring). */
export function allocZeroedArea(memory: GuestMemory, allocator: GuestAllocator, size: number, align: number): number {
  const address = allocator.alloc(size, align);
  memory.view(address, size).fill(0);
  return address;
}
