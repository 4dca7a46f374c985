import { ConfigError, MemoryAccessError } from '../errors.js';
import type { GuestMemory, MemoryRegion } from './guest-memory.js';
import { checkSpan, copyBytes } from './copy-bytes.js';

/**
 * One flat RAM buffer as guest memory: guest physical address = byte offset into the RAM, from 0
 * to `size` - 1, as an emulator's RAM array is addressed. Every access is bounds-checked against
 * that one range, with no region lookup; it works wherever a {@link GuestMemory} does (the bus's
 * side of a connection, a guest driver, the worker connector's two halves when the RAM is a
 * SharedArrayBuffer).
 *
 * The RAM may be part of a larger buffer (`offset`): an emulator that keeps devices' state behind
 * its RAM in the same buffer hands in only the RAM.
 */
export class FlatMemory implements GuestMemory {
  /** Bytes of RAM: valid guest addresses are `[0, size)`. */
  readonly size: number;
  /** The RAM: `bytes[a]` is the byte at guest address `a`. */
  readonly bytes: Uint8Array;

  /**
   * @param buffer the backing store (a SharedArrayBuffer to share it with other threads)
   * @param offset byte offset of guest address 0 inside `buffer` (default 0; a multiple of 8, so
   *   aligned guest addresses are aligned in the buffer, as `Atomics` and 64-bit fields need)
   * @param size bytes of RAM (default: the rest of the buffer)
   */
  constructor(
    readonly buffer: ArrayBufferLike,
    readonly offset = 0,
    size = buffer.byteLength - offset,
  ) {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % 8 !== 0) throw new ConfigError('offset', offset, 'must be a non-negative multiple of 8');
    if (!Number.isSafeInteger(size) || size <= 0 || offset + size > buffer.byteLength)
      throw new ConfigError('size', size, `must be a positive integer with offset + size within the ${buffer.byteLength}-byte buffer`);
    this.size = size;
    this.bytes = new Uint8Array(buffer as ArrayBuffer, offset, size);
  }

  /** A new SharedArrayBuffer of `size` bytes as flat RAM. */
  static create(size: number): FlatMemory {
    if (!Number.isSafeInteger(size) || size <= 0) throw new ConfigError('size', size, 'must be a positive integer');
    return new FlatMemory(new SharedArrayBuffer(size));
  }

  regions(): readonly MemoryRegion[] {
    return [{ address: 0, length: this.size, buffer: this.buffer, offset: this.offset }];
  }

  contains(address: number, length: number): boolean {
    return Number.isSafeInteger(address) && address >= 0 && Number.isSafeInteger(length) && length >= 0 && address <= this.size - length;
  }

  /** The RAM offset of a checked range. Hot path: no allocation. */
  private at(address: number, length: number, op: string): number {
    if (!Number.isSafeInteger(address) || address < 0 || !Number.isSafeInteger(length) || length < 0)
      throw new MemoryAccessError(Number(address), Number(length), op, 'address and length must be non-negative integers below 2^53');
    if (address > this.size - length) throw new MemoryAccessError(address, length, op, `range is outside the ${this.size}-byte RAM`);
    return address;
  }

  view(address: number, length: number): Uint8Array {
    const a = this.at(address, length, 'view');
    return this.bytes.subarray(a, a + length);
  }

  read(address: number, length: number): Uint8Array {
    return this.view(address, length).slice();
  }

  write(address: number, bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at(address, bytes.length, 'write'));
  }

  copyOut(address: number, target: Uint8Array, targetOffset: number, length: number): void {
    const a = this.at(address, length, 'copyOut');
    checkSpan(target, targetOffset, length, 'copyOut');
    copyBytes(this.bytes, a, target, targetOffset, length);
  }

  copyIn(address: number, source: Uint8Array, sourceOffset: number, length: number): void {
    const a = this.at(address, length, 'copyIn');
    checkSpan(source, sourceOffset, length, 'copyIn');
    copyBytes(source, sourceOffset, this.bytes, a, length);
  }

  copyWithin(dst: number, src: number, length: number): void {
    const s = this.at(src, length, 'copyWithin');
    const d = this.at(dst, length, 'copyWithin');
    this.bytes.copyWithin(d, s, s + length);
  }

  int32(address: number, count: number): Int32Array {
    const a = this.at(address, count * 4, 'int32');
    if (a % 4 !== 0) throw new MemoryAccessError(address, count * 4, 'int32', 'address is not 4-byte aligned');
    return new Int32Array(this.buffer as ArrayBuffer, this.offset + a, count);
  }
}
