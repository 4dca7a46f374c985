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

/**
 * Partial copies between two different buffers up to this length run as a word loop (no view
 * allocated): the unrolled loop below copies 64 bytes in about 4 ns and 256 in about 32, where
 * `set` through a fresh subarray takes 29 to 38 ns; from about 300 bytes `set` wins.
 */
const LOOP_COPY_MAX = 256;

/**
 * Copy `n` 32-bit words, 16 at a time unrolled: V8 neither unrolls nor hoists the bounds checks
 * of a plain element loop, which made a 64-byte copy cost 13 ns instead of 4.
 */
function copyWords(sw: Int32Array, s4: number, dw: Int32Array, d4: number, n: number): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const s = s4 + i;
    const d = d4 + i;
    dw[d] = sw[s]!;
    dw[d + 1] = sw[s + 1]!;
    dw[d + 2] = sw[s + 2]!;
    dw[d + 3] = sw[s + 3]!;
    dw[d + 4] = sw[s + 4]!;
    dw[d + 5] = sw[s + 5]!;
    dw[d + 6] = sw[s + 6]!;
    dw[d + 7] = sw[s + 7]!;
    dw[d + 8] = sw[s + 8]!;
    dw[d + 9] = sw[s + 9]!;
    dw[d + 10] = sw[s + 10]!;
    dw[d + 11] = sw[s + 11]!;
    dw[d + 12] = sw[s + 12]!;
    dw[d + 13] = sw[s + 13]!;
    dw[d + 14] = sw[s + 14]!;
    dw[d + 15] = sw[s + 15]!;
  }
  for (; i + 4 <= n; i += 4) {
    const s = s4 + i;
    const d = d4 + i;
    dw[d] = sw[s]!;
    dw[d + 1] = sw[s + 1]!;
    dw[d + 2] = sw[s + 2]!;
    dw[d + 3] = sw[s + 3]!;
  }
  for (; i < n; i++) dw[d4 + i] = sw[s4 + i]!;
}

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
/**
 * The entries of the last copy's two arrays, checked before the scan: a thread that copies the
 * same way frame after frame (guest memory into one private buffer) finds both at once. An entry
 * is reused for another array when the cache turns over, so each is matched by its array.
 */
let lastSrc: ArrayWords = entries[0]!;
let lastDst: ArrayWords = entries[0]!;
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
    // the whole source: one set (it copies as memmove when both share a buffer), no lookup; at
    // 64 bytes that beat the word loop below with its two lookups (in-process stream probe)
    dst.set(src, dstAt);
    return;
  }
  // the source's fields are read before the destination's lookup, which may evict its entry
  let se = lastSrc;
  if (se.array !== src) lastSrc = se = entryOf(src);
  const sBuffer = se.buffer;
  const sOffset = se.byteOffset;
  const sw = se.words!;
  let de = lastDst;
  if (de.array !== dst) lastDst = de = entryOf(dst);
  if (sBuffer === de.buffer) {
    // same backing store (a guest-to-guest copy): a short aligned copy between ranges that do not
    // overlap runs as the word loop (a call into copyWithin costs more than 64 bytes of words);
    // anything else is one memmove, whatever the two views are
    const s = sOffset + srcAt;
    const d = de.byteOffset + dstAt;
    if (length <= LOOP_COPY_MAX && ((s | d | length) & 3) === 0 && (s + length <= d || d + length <= s)) {
      copyWords(sw, s >> 2, sw, d >> 2, length >> 2);
      return;
    }
    const from = srcAt + sOffset - de.byteOffset;
    if (from >= 0 && from + length <= dst.length) dst.copyWithin(dstAt, from, from + length);
    else dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  } else if (length <= LOOP_COPY_MAX) {
    const s = sOffset + srcAt;
    const d = de.byteOffset + dstAt;
    if (((s | d | length) & 3) === 0) copyWords(sw, s >> 2, de.words!, d >> 2, length >> 2);
    else {
      for (let i = 0; i < length; i++) dst[dstAt + i] = src[srcAt + i]!;
    }
  } else {
    dst.set(src.subarray(srcAt, srcAt + length), dstAt);
  }
}
