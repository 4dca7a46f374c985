import { ConfigError, VbusError } from '../errors.js';

/**
 * A first-fit allocator over a range of guest addresses, for a driver's rings and buffers.
 * It hands out addresses only; the bytes live in {@link GuestMemory}. Freed blocks are merged
 * with their neighbours.
 */
export class GuestAllocator {
  /** Free blocks sorted by address. */
  private free: Array<{ address: number; length: number }>;
  private readonly used = new Map<number, number>();

  constructor(
    readonly base: number,
    readonly length: number,
  ) {
    if (!Number.isSafeInteger(base) || base < 0) throw new ConfigError('allocator.base', base, 'must be a non-negative integer');
    if (!Number.isSafeInteger(length) || length <= 0) throw new ConfigError('allocator.length', length, 'must be a positive integer');
    this.free = [{ address: base, length }];
  }

  /** Allocate `size` bytes aligned to `align` (a power of two). Throws when out of space. */
  alloc(size: number, align = 8): number {
    if (!Number.isSafeInteger(size) || size <= 0) throw new ConfigError('alloc.size', size, 'must be a positive integer');
    if (!Number.isSafeInteger(align) || align <= 0 || 2 ** Math.round(Math.log2(align)) !== align) throw new ConfigError('alloc.align', align, 'must be a power of two');
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      const start = Math.ceil(b.address / align) * align;
      const pad = start - b.address;
      if (pad + size > b.length) continue;
      const rest = b.length - pad - size;
      const pieces: Array<{ address: number; length: number }> = [];
      if (pad > 0) pieces.push({ address: b.address, length: pad });
      if (rest > 0) pieces.push({ address: start + size, length: rest });
      this.free.splice(i, 1, ...pieces);
      this.used.set(start, size);
      return start;
    }
    throw new VbusError('alloc', `guest allocator: no free block of ${size} bytes (align ${align}) in [0x${this.base.toString(16)}, +${this.length})`);
  }

  /** Return a block from {@link alloc}. */
  release(address: number): void {
    const size = this.used.get(address);
    if (size === undefined) throw new VbusError('alloc', `guest allocator: 0x${address.toString(16)} was not allocated`);
    this.used.delete(address);
    let i = 0;
    while (i < this.free.length && this.free[i]!.address < address) i++;
    this.free.splice(i, 0, { address, length: size });
    // merge with the next, then the previous neighbour
    const next = this.free[i + 1];
    if (next && address + size === next.address) {
      this.free[i]!.length += next.length;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.address + prev.length === address) {
      prev.length += this.free[i]!.length;
      this.free.splice(i, 1);
    }
  }

  /** Bytes currently allocated. */
  get inUse(): number {
    let s = 0;
    for (const v of this.used.values()) s += v;
    return s;
  }
}
