/**
 * Byte copies between guest memory and host arrays, shared by the `GuestMemory` implementations
 * (RegionMemory, FlatMemory): the span check of `copyIn`/`copyOut`, and a copy that allocates
 * nothing on the paths rings use. @internal
 */

/** A `RangeError` if `[offset, offset+length)` does not fit `b` (the host-side array of a copy). */
export function checkSpan(b: Uint8Array, offset: number, length: number, op: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > b.length - length)
    throw new RangeError(`${op}: [${offset}, ${offset + length}) does not fit an array of ${b.length} bytes`);
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
export function copyBytes(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, length: number): void {
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
