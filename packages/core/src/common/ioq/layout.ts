import { SHM_SIGNAL_SIZE } from '../signal/layout.js';

/**
 * IOQ ring layout, version 4 (docs/architecture.md section 3.2). One contiguous block of guest memory: the
 * header, then `count` descriptors. All fields little-endian; the words that both sides race
 * on (indices, full, valid, sown) are touched with Atomics.
 *
 *   0   magic    u32  0x47fa2fe4
 *   4   version  u32  4
 *   8   signal   shm-signal descriptor (32 bytes)
 *  40   idx[0]   valid: { head u32, tail u32, full u32 }
 *  52   idx[1]   inuse: { head u32, tail u32, full u32 }
 *  64   count    u32
 *  68   reserved u32 (keeps descriptors 8-aligned)
 *  72   desc[count]
 *
 * Descriptor (32 bytes): cookie u64 @0 (north's own), ptr u64 @8, len u64 @16, valid u8 @24,
 * sown u8 @25 (1 = the south side owns it), 6 bytes padding.
 *
 * The descriptors sit inline after the header (the original pointed to a separate array): one
 * region per ring means one `shm` registration and one bounds check.
 */
export const IOQ_MAGIC = 0x47fa2fe4;
/** The IOQ ABI version this code speaks (vbus's version 4). */
export const IOQ_VERSION = 4;
/** Header field magic, u32 at 0. */
export const IOQ_OFF_MAGIC = 0;
/** Header field version, u32 at 4. */
export const IOQ_OFF_VERSION = 4;
/** Header field signal at 8: the ring's embedded shm-signal descriptor. */
export const IOQ_OFF_SIGNAL = 8;
/** idx[0], the valid index: head u32 + tail u32 + full u32. */
export const IOQ_OFF_IDX_VALID = IOQ_OFF_SIGNAL + SHM_SIGNAL_SIZE;
/** idx[1], the inuse index. */
export const IOQ_OFF_IDX_INUSE = IOQ_OFF_IDX_VALID + 12;
/** Offset of `head` in an index (u32): where the next pop happens. */
export const IOQ_IDX_HEAD = 0;
/** Offset of `tail` in an index (u32): where the next push happens. */
export const IOQ_IDX_TAIL = 4;
/** Offset of `full` in an index (u32): tells a full ring from an empty one when head equals tail. */
export const IOQ_IDX_FULL = 8;
/** Header field count, u32: descriptors in the ring. */
export const IOQ_OFF_COUNT = IOQ_OFF_IDX_INUSE + 12;
/** Bytes of the ring header: count u32 + reserved u32 after the two indices; descriptors follow, 8-aligned. */
export const IOQ_HEADER_SIZE = IOQ_OFF_COUNT + 8;

/** Bytes of one descriptor: cookie u64 + ptr u64 + len u64 + valid u8 + sown u8 + 6 bytes padding. */
export const IOQ_DESC_SIZE = 32;
/** Descriptor field cookie, u64 at 0: the north side's own value, returned untouched. */
export const IOQ_DESC_COOKIE = 0;
/** Descriptor field ptr, u64 at 8: guest address of the buffer. */
export const IOQ_DESC_PTR = 8;
/** Descriptor field len, u64 at 16: bytes at `ptr`. */
export const IOQ_DESC_LEN = 16;
/** Descriptor field valid, u8 at 24: the descriptor holds a buffer. */
export const IOQ_DESC_VALID = 24;
/** Descriptor field sown, u8 at 25: 1 when the south side (host) owns the descriptor. */
export const IOQ_DESC_SOWN = 25;

/** Largest ring the host accepts (the original's venet capped rings at 2048; we allow more). */
export const IOQ_MAX_COUNT = 65536;

/** Bytes needed for a ring of `count` descriptors. */
export function ioqByteLength(count: number): number {
  return IOQ_HEADER_SIZE + count * IOQ_DESC_SIZE;
}

/** The two indices of a ring. */
export enum IoqIndex {
  /** idx[0]: north tracks descriptors it has made valid and later reclaims. */
  Valid = 0,
  /** idx[1]: descriptors handed to the other side; north pushes at the tail, south pops at the head. */
  Inuse = 1,
}

/** Iterator flags. */
export const IOQ_ITER_AUTOUPDATE = 1;
/** Iterator flag: push and pop without flipping descriptor ownership (`sown`). */
export const IOQ_ITER_NOFLIPOWNER = 2;

/** Where {@link IoqIterator.seek} moves to. */
export enum IoqSeek {
  Head = 0,
  Tail = 1,
  Next = 2,
  Set = 3,
}
