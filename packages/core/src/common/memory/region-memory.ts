import { MemoryAccessError, ConfigError } from '../errors.js';
import type { GuestMemory, MemoryRegion } from './guest-memory.js';

/**
 * Guest memory made of regions of (Shared)ArrayBuffer placed at guest addresses. The default
 * {@link GuestMemory}. Accesses are bounds-checked against a single region: a range that runs off
 * a region's end is an error even when the next region starts right there, as on a real bus.
 */
export class RegionMemory implements GuestMemory {
  private readonly list: Array<MemoryRegion & { bytes: Uint8Array }> = [];
  /** Index of the region that served the last lookup: rings hit the same region again and again. */
  private last = 0;

  constructor(regions: Iterable<MemoryRegion> = []) {
    for (const r of regions) this.addRegion(r.address, r.buffer, r.offset, r.length);
  }

  /** Allocate a new SharedArrayBuffer of `length` bytes and map it at `address`. */
  static create(address: number, length: number): RegionMemory {
    const m = new RegionMemory();
    m.addRegion(address, new SharedArrayBuffer(length));
    return m;
  }

  /**
   * Map `buffer[offset, offset+length)` at guest address `address`. Refuses overlaps and bad
   * ranges, leaving the map unchanged.
   */
  addRegion(address: number, buffer: ArrayBufferLike, offset = 0, length = buffer.byteLength - offset): MemoryRegion {
    if (!Number.isSafeInteger(address) || address < 0) throw new ConfigError('region.address', address, 'must be a non-negative safe integer');
    if (!Number.isSafeInteger(length) || length <= 0) throw new ConfigError('region.length', length, 'must be a positive integer');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > buffer.byteLength)
      throw new ConfigError('region.offset', offset, `region [${offset}, ${offset + length}) does not fit its ${buffer.byteLength}-byte buffer`);
    if (!Number.isSafeInteger(address + length)) throw new ConfigError('region.address', address, 'region end exceeds 2^53');
    for (const r of this.list) {
      if (address < r.address + r.length && r.address < address + length)
        throw new ConfigError('region.address', address, `overlaps the region at 0x${r.address.toString(16)} (+${r.length})`);
    }
    const region = { address, length, buffer, offset, bytes: new Uint8Array(buffer as ArrayBuffer, offset, length) };
    this.list.push(region);
    this.list.sort((a, b) => a.address - b.address);
    return { address, length, buffer, offset };
  }

  /** Unmap the region that starts at `address`. Returns false if there is none. */
  removeRegion(address: number): boolean {
    const i = this.list.findIndex((r) => r.address === address);
    if (i < 0) return false;
    this.list.splice(i, 1);
    this.last = 0;
    return true;
  }

  regions(): readonly MemoryRegion[] {
    return this.list.map(({ address, length, buffer, offset }) => ({ address, length, buffer, offset }));
  }

  /** Region index holding the whole range, or -1. Hot path: no allocation. */
  private find(address: number, length: number): number {
    const list = this.list;
    const n = list.length;
    if (n === 0) return -1;
    let i = this.last < n ? this.last : 0;
    for (let k = 0; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      const r = list[i]!;
      if (address >= r.address && address - r.address <= r.length - length && length >= 0) {
        this.last = i;
        return i;
      }
    }
    return -1;
  }

  contains(address: number, length: number): boolean {
    // the same rule as locate(): a range contains() accepts must be one view() accepts
    return Number.isSafeInteger(address) && address >= 0 && Number.isSafeInteger(length) && length >= 0 && this.find(address, length) >= 0;
  }

  private locate(address: number, length: number, op: string): MemoryRegion & { bytes: Uint8Array } {
    if (!Number.isSafeInteger(address) || address < 0 || !Number.isSafeInteger(length) || length < 0)
      throw new MemoryAccessError(Number(address), Number(length), op, 'address and length must be non-negative integers below 2^53');
    const i = this.find(address, length);
    if (i < 0) throw new MemoryAccessError(address, length, op, 'range is not inside one registered region');
    return this.list[i]!;
  }

  view(address: number, length: number): Uint8Array {
    const r = this.locate(address, length, 'view');
    const start = address - r.address;
    return r.bytes.subarray(start, start + length);
  }

  read(address: number, length: number): Uint8Array {
    return this.view(address, length).slice();
  }

  write(address: number, bytes: Uint8Array): void {
    const r = this.locate(address, bytes.length, 'write');
    r.bytes.set(bytes, address - r.address);
  }

  copyOut(address: number, target: Uint8Array, targetOffset: number, length: number): void {
    const r = this.locate(address, length, 'copyOut');
    checkSpan(target, targetOffset, length, 'copyOut');
    copyBytes(r.bytes, address - r.address, target, targetOffset, length);
  }

  copyIn(address: number, source: Uint8Array, sourceOffset: number, length: number): void {
    const r = this.locate(address, length, 'copyIn');
    checkSpan(source, sourceOffset, length, 'copyIn');
    copyBytes(source, sourceOffset, r.bytes, address - r.address, length);
  }

  copyWithin(dst: number, src: number, length: number): void {
    const s = this.locate(src, length, 'copyWithin');
    const sStart = src - s.address;
    const d = this.locate(dst, length, 'copyWithin');
    copyBytes(s.bytes, sStart, d.bytes, dst - d.address, length);
  }

  int32(address: number, count: number): Int32Array {
    const r = this.locate(address, count * 4, 'int32');
    const byteOffset = r.offset + (address - r.address);
    if (byteOffset % 4 !== 0) throw new MemoryAccessError(address, count * 4, 'int32', 'address is not 4-byte aligned');
    return new Int32Array(r.buffer as ArrayBuffer, byteOffset, count);
  }
}

function checkSpan(b: Uint8Array, offset: number, length: number, op: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > b.length - length) throw new RangeError(`${op}: [${offset}, ${offset + length}) does not fit an array of ${b.length} bytes`);
}

/** Partial copies between two different buffers up to this length run as a loop (no view allocated). */
const LOOP_COPY_MAX = 128;

/**
 * Int32 views over whole buffers, for the word loop: a few entries found by buffer identity, so
 * that a thread copying between guest memory and two or three private buffers (a device's
 * descriptor copy and its event buffer, say) never allocates. With one entry per direction, a
 * copy out (guest to private) followed by a copy in (private to guest) replaced both entries and
 * allocated two views per frame.
 */
const WORD_CACHE = 4;
const wordBuffers: Array<ArrayBufferLike | undefined> = new Array(WORD_CACHE).fill(undefined);
const wordViews: Array<Int32Array | undefined> = new Array(WORD_CACHE).fill(undefined);
let wordNext = 0;
function wordsOf(buffer: ArrayBufferLike): Int32Array {
  for (let i = 0; i < WORD_CACHE; i++) if (wordBuffers[i] === buffer) return wordViews[i]!;
  const i = wordNext;
  wordNext = (i + 1) % WORD_CACHE;
  const words = new Int32Array(buffer as ArrayBuffer, 0, buffer.byteLength >> 2);
  wordBuffers[i] = buffer;
  wordViews[i] = words;
  return words;
}

/**
 * Copy `length` bytes from `src[srcAt...]` to `dst[dstAt...]` (ranges already checked), without
 * allocating where it can: one `set` when the source is the whole of `src`, `copyWithin` when
 * both sit in the same buffer, a 32-bit word loop when both ends are 4-aligned and the copy is
 * short (byte-wise element access is slow on shared memory), a byte loop for other short
 * copies. Only a partial copy of more than {@link LOOP_COPY_MAX} bytes between two different
 * buffers goes through one subarray (there a memcpy beats any loop by far).
 */
function copyBytes(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, length: number): void {
  if (length === 0) return;
  if (srcAt === 0 && length === src.length) {
    dst.set(src, dstAt);
  } else if (src.buffer === dst.buffer) {
    // same backing store: one memmove, whatever the two views are
    const delta = src.byteOffset - dst.byteOffset;
    const from = srcAt + delta;
    if (from >= 0 && from + length <= dst.length) dst.copyWithin(dstAt, from, from + length);
    else dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  } else if (length <= LOOP_COPY_MAX) {
    const s = src.byteOffset + srcAt;
    const d = dst.byteOffset + dstAt;
    if (((s | d | length) & 3) === 0) {
      const sw = wordsOf(src.buffer);
      const dw = wordsOf(dst.buffer);
      const s4 = s >> 2;
      const d4 = d >> 2;
      const n4 = length >> 2;
      for (let i = 0; i < n4; i++) dw[d4 + i] = sw[s4 + i]!;
    } else {
      for (let i = 0; i < length; i++) dst[dstAt + i] = src[srcAt + i]!;
    }
  } else {
    dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  }
}
