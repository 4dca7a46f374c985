/**
 * shm-signal descriptor layout (docs/architecture.md section 3.1). Each word is an Int32 cell so that both
 * threads touch it with `Atomics` (the original used u8 fields; a u8 layout is not safe to
 * update atomically alongside its neighbours from JavaScript, so every field gets a word).
 *
 *   0  magic   u32  0x58fa39df
 *   4  version u32  1
 *   8  side[0] (north, the guest)  { enabled u32, pending u32, dirty u32 }
 *  20  side[1] (south, the host)   { enabled u32, pending u32, dirty u32 }
 *  32  end
 */
export const SHM_SIGNAL_MAGIC = 0x58fa39df;
/** The shm-signal ABI version this code speaks. */
export const SHM_SIGNAL_VERSION = 1;
/** Byte offset of the magic word. */
export const SHM_SIGNAL_OFF_MAGIC = 0;
/** Byte offset of the version word. */
export const SHM_SIGNAL_OFF_VERSION = 4;
/** Byte offset of side 0's record; side 1 follows at + SHM_SIGNAL_SIDE_SIZE. */
export const SHM_SIGNAL_OFF_SIDES = 8;
/** One side's record: enabled u32 + pending u32 + dirty u32. */
export const SHM_SIGNAL_SIDE_SIZE = 12;
/** Offsets inside a side's record. */
export const SHM_SIGNAL_SIDE_ENABLED = 0;
/** Offset of `pending` in a side record (i32): a wake is in flight; further injects are suppressed. */
export const SHM_SIGNAL_SIDE_PENDING = 4;
/** Offset of `dirty` in a side record (i32): a signal was raised since the receiver last looked. */
export const SHM_SIGNAL_SIDE_DIRTY = 8;
/** Size of the whole descriptor: magic + version + 2 sides. */
export const SHM_SIGNAL_SIZE = SHM_SIGNAL_OFF_SIDES + 2 * SHM_SIGNAL_SIDE_SIZE;

/** Which half of a connection: north is the guest (driver), south the host (device). */
export enum Side {
  North = 0,
  South = 1,
}

/** Int32 cell index of a side's field, for Atomics on the descriptor's Int32Array. */
export function signalCell(side: Side, fieldOffset: number): number {
  return (SHM_SIGNAL_OFF_SIDES + side * SHM_SIGNAL_SIDE_SIZE + fieldOffset) >> 2;
}
