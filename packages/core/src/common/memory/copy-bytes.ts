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
 * Per byte array seen by {@link copyBytes}: its buffer, offset and an Int32 view over the whole
 * buffer, for the word loop. Found by the array's identity (a few entries), so that a thread
 * copying between guest memory and two or three private buffers never allocates, and never calls
 * the `buffer`/`byteOffset` getters per copy: each costs about 17 ns, as much as copying a
 * 64-byte frame word by word, and a copy used to call four.
 */
interface ArrayWords {
  array: Uint8Array | undefined;
  buffer: ArrayBufferLike | undefined;
  byteOffset: number;
  words: Int32Array | undefined;
}
const WORD_CACHE = 4;
const entries: ArrayWords[] = Array.from({ length: WORD_CACHE }, () => ({ array: undefined, buffer: undefined, byteOffset: 0, words: undefined }));
let entryNext = 0;
function entryOf(a: Uint8Array): ArrayWords {
  for (let i = 0; i < WORD_CACHE; i++) if (entries[i]!.array === a) return entries[i]!;
  const e = entries[entryNext]!;
  entryNext = (entryNext + 1) % WORD_CACHE;
  const buffer = a.buffer;
  let words: Int32Array | undefined;
  // an entry for the same buffer (another view of it) lends its word view
  for (let i = 0; i < WORD_CACHE; i++) if (entries[i] !== e && entries[i]!.buffer === buffer) words = entries[i]!.words;
  e.array = a;
  e.buffer = buffer;
  e.byteOffset = a.byteOffset;
  e.words = words ?? new Int32Array(buffer as ArrayBuffer, 0, buffer.byteLength >> 2);
  return e;
}

/**
 * Copy `length` bytes from `src[srcAt...]` to `dst[dstAt...]` (ranges already checked), without
 * allocating where it can. Short copies (up to {@link LOOP_COPY_MAX} bytes) run as a 32-bit word
 * loop when both ends are 4-aligned, as a byte loop otherwise (element access is slow on shared
 * memory, but a call into `set` costs more at this size). The whole of `src` is one `set`; other
 * long copies are `set` through one subarray; within one buffer, `copyWithin` (a memmove).
 */
export function copyBytes(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, length: number): void {
  if (length === 0) return;
  if (srcAt === 0 && length === src.length) {
    // the whole source: one set (it copies as memmove when both share a buffer), no lookup
    dst.set(src, dstAt);
    return;
  }
  // the source's fields are read before the destination's lookup, which may evict its entry
  const se = entryOf(src);
  const sBuffer = se.buffer;
  const sOffset = se.byteOffset;
  const sw = se.words!;
  const de = entryOf(dst);
  if (sBuffer === de.buffer) {
    // same backing store: one memmove, whatever the two views are
    const from = srcAt + sOffset - de.byteOffset;
    if (from >= 0 && from + length <= dst.length) dst.copyWithin(dstAt, from, from + length);
    else dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  } else if (length <= LOOP_COPY_MAX) {
    const s = sOffset + srcAt;
    const d = de.byteOffset + dstAt;
    if (((s | d | length) & 3) === 0) {
      const dw = de.words!;
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
