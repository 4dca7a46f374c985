/**
 * Byte layouts and constants of the virtqueues, OASIS virtio 1.2 §2.7 (split) and §2.8 (packed),
 * plus the transport feature and status bits (§2.1, §6). Every field is little-endian.
 * Constants only, and the arithmetic that derives sizes and offsets from them; a test pins every
 * value against the specification and the C header `linux/virtio_ring.h`.
 */

// ---------------------------------------------------------------------------------------------
// Descriptor (split: virtq_desc, §2.7.5): addr u64 + len u32 + flags u16 + next u16 = 16 bytes
// ---------------------------------------------------------------------------------------------

/** Offset of `addr` (u64, guest-physical buffer address) in a descriptor. */
export const VIRTQ_DESC_ADDR = 0x0;
/** Offset of `len` (u32, buffer length in bytes) in a descriptor. */
export const VIRTQ_DESC_LEN = VIRTQ_DESC_ADDR + 8;
/** Offset of `flags` (u16, VIRTQ_DESC_F_*) in a split descriptor. */
export const VIRTQ_DESC_FLAGS = VIRTQ_DESC_LEN + 4;
/** Offset of `next` (u16, index of the next descriptor when F_NEXT) in a split descriptor. */
export const VIRTQ_DESC_NEXT = VIRTQ_DESC_FLAGS + 2;
/** Size of one descriptor, split or packed: addr u64 + len u32 + 2 × u16 = 16 bytes. */
export const VIRTQ_DESC_SIZE = VIRTQ_DESC_NEXT + 2;
/** Alignment of the descriptor table / packed descriptor ring (§2.7.10.1, §2.8.10.1). */
export const VIRTQ_DESC_ALIGN = 0x10;

/** Descriptor flag: the buffer continues via `next` (split) or the following slot (packed). */
export const VIRTQ_DESC_F_NEXT = 0x1;
/** Descriptor flag: the buffer is device-writable (otherwise device-readable). */
export const VIRTQ_DESC_F_WRITE = 0x2;
/** Descriptor flag: the buffer holds a table of descriptors (needs VIRTIO_F_INDIRECT_DESC). */
export const VIRTQ_DESC_F_INDIRECT = 0x4;

// ---------------------------------------------------------------------------------------------
// Available ring (virtq_avail, §2.7.6): flags u16 + idx u16 + ring[N] u16 + used_event u16
// ---------------------------------------------------------------------------------------------

/** Offset of avail `flags` (u16, VRING_AVAIL_F_*). */
export const VIRTQ_AVAIL_FLAGS = 0x0;
/** Offset of avail `idx` (u16, free-running: where the driver puts the next entry). */
export const VIRTQ_AVAIL_IDX = VIRTQ_AVAIL_FLAGS + 2;
/** Offset of avail `ring[0]` (u16 head descriptor indices). */
export const VIRTQ_AVAIL_RING = VIRTQ_AVAIL_IDX + 2;
/** Size of one avail ring entry (u16 head index). */
export const VIRTQ_AVAIL_ELEM_SIZE = 2;
/** Size of avail flags + idx + used_event: the 6 in 6 + 2N. */
export const VIRTQ_AVAIL_OVERHEAD = VIRTQ_AVAIL_RING + 2;
/** Alignment of the available ring. */
export const VIRTQ_AVAIL_ALIGN = 0x2;
/** avail.flags bit: the driver asks the device not to send used-buffer notifications. */
export const VRING_AVAIL_F_NO_INTERRUPT = 0x1;

// ---------------------------------------------------------------------------------------------
// Used ring (virtq_used, §2.7.8): flags u16 + idx u16 + ring[N] {id u32, len u32} + avail_event u16
// ---------------------------------------------------------------------------------------------

/** Offset of used `flags` (u16, VRING_USED_F_*). */
export const VIRTQ_USED_FLAGS = 0x0;
/** Offset of used `idx` (u16, free-running: where the device puts the next entry). */
export const VIRTQ_USED_IDX = VIRTQ_USED_FLAGS + 2;
/** Offset of used `ring[0]`. */
export const VIRTQ_USED_RING = VIRTQ_USED_IDX + 2;
/** Offset of `id` (u32, head index of the used chain) in a used element. */
export const VIRTQ_USED_ELEM_ID = 0x0;
/** Offset of `len` (u32, bytes written into the chain) in a used element. */
export const VIRTQ_USED_ELEM_LEN = VIRTQ_USED_ELEM_ID + 4;
/** Size of one used element: id u32 + len u32. */
export const VIRTQ_USED_ELEM_SIZE = VIRTQ_USED_ELEM_LEN + 4;
/** Size of used flags + idx + avail_event: the 6 in 6 + 8N. */
export const VIRTQ_USED_OVERHEAD = VIRTQ_USED_RING + 2;
/** Alignment of the used ring. */
export const VIRTQ_USED_ALIGN = 0x4;
/** used.flags bit: the device asks the driver not to send available-buffer notifications. */
export const VRING_USED_F_NO_NOTIFY = 0x1;

/** Largest queue size (§2.7: "Queue Size ... maximum is 32768"). */
export const VIRTQ_MAX_SIZE = 0x8000;

// ---------------------------------------------------------------------------------------------
// Packed ring (§2.8): descriptor addr u64 + len u32 + id u16 + flags u16
// ---------------------------------------------------------------------------------------------

/** Offset of `id` (u16, buffer id) in a packed descriptor. */
export const VIRTQ_PACKED_DESC_ID = VIRTQ_DESC_LEN + 4;
/** Offset of `flags` (u16) in a packed descriptor. */
export const VIRTQ_PACKED_DESC_FLAGS = VIRTQ_PACKED_DESC_ID + 2;
/** Bit number of the packed AVAIL flag (VRING_PACKED_DESC_F_AVAIL). */
export const VRING_PACKED_DESC_F_AVAIL_BIT = 7;
/** Bit number of the packed USED flag (VRING_PACKED_DESC_F_USED). */
export const VRING_PACKED_DESC_F_USED_BIT = 15;
/** Packed descriptor flag AVAIL = 1 << 7: equals the driver's wrap counter when made available. */
export const VIRTQ_PACKED_DESC_F_AVAIL = 1 << VRING_PACKED_DESC_F_AVAIL_BIT;
/** Packed descriptor flag USED = 1 << 15: equals the device's wrap counter when used. */
export const VIRTQ_PACKED_DESC_F_USED = 1 << VRING_PACKED_DESC_F_USED_BIT;

/** Offset of `off_wrap` (u16: descriptor offset bits 0..14, wrap counter bit 15) in an event suppression area. */
export const VRING_PACKED_EVENT_OFF_WRAP = 0x0;
/** Offset of `flags` (u16, VRING_PACKED_EVENT_FLAG_*) in an event suppression area. */
export const VRING_PACKED_EVENT_FLAGS = VRING_PACKED_EVENT_OFF_WRAP + 2;
/** Size of an event suppression area: off_wrap u16 + flags u16. */
export const VRING_PACKED_EVENT_SIZE = VRING_PACKED_EVENT_FLAGS + 2;
/** Alignment of each event suppression area. */
export const VRING_PACKED_EVENT_ALIGN = 0x4;
/** Bit number of the wrap counter in off_wrap. */
export const VRING_PACKED_EVENT_F_WRAP_CTR = 15;
/** Event suppression flags: notifications enabled. */
export const VRING_PACKED_EVENT_FLAG_ENABLE = 0x0;
/** Event suppression flags: notifications disabled. */
export const VRING_PACKED_EVENT_FLAG_DISABLE = 0x1;
/** Event suppression flags: notify at the descriptor named by off_wrap (needs EVENT_IDX). */
export const VRING_PACKED_EVENT_FLAG_DESC = 0x2;

// ---------------------------------------------------------------------------------------------
// Transport feature bits (§6) and device status bits (§2.1)
// ---------------------------------------------------------------------------------------------

/** Feature bit: indirect descriptor tables. */
export const VIRTIO_F_INDIRECT_DESC = 28;
/** Feature bit: used_event / avail_event (split) and DESC event suppression (packed). */
export const VIRTIO_F_EVENT_IDX = 29;
/** Feature bit: virtio 1.x (modern) device. */
export const VIRTIO_F_VERSION_1 = 32;
/** Feature bit: the device goes through the platform's IOMMU. */
export const VIRTIO_F_ACCESS_PLATFORM = 33;
/** Feature bit: packed virtqueue layout. */
export const VIRTIO_F_RING_PACKED = 34;
/** Feature bit: buffers are used in the order they were made available. */
export const VIRTIO_F_IN_ORDER = 35;

/** Status: the guest found the device. */
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 0x1;
/** Status: the guest knows how to drive the device. */
export const VIRTIO_CONFIG_S_DRIVER = 0x2;
/** Status: the driver is ready. */
export const VIRTIO_CONFIG_S_DRIVER_OK = 0x4;
/** Status: feature negotiation is complete. */
export const VIRTIO_CONFIG_S_FEATURES_OK = 0x8;
/** Status: the device hit an error it cannot recover from by itself. */
export const VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET = 0x40;
/** Status: the guest gave up on the device. */
export const VIRTIO_CONFIG_S_FAILED = 0x80;

/** The feature bit `bit` as a 64-bit mask. */
export function featureMask(bit: number): bigint {
  return 1n << BigInt(bit);
}
/** True if `features` has `bit` set. */
export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureMask(bit)) !== 0n;
}

// ---------------------------------------------------------------------------------------------
// Sizes and offsets
// ---------------------------------------------------------------------------------------------

/** True if `n` is a valid split queue size: a power of two in 1..32768 (§2.7). */
export function isValidSplitSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= VIRTQ_MAX_SIZE && (n & (n - 1)) === 0;
}
/** True if `n` is a valid packed queue size: 1..32768, any value (§2.8). */
export function isValidPackedSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= VIRTQ_MAX_SIZE;
}

/** Byte sizes of the three split-ring areas for queue size `n` (§2.7, "Queue Part: Size"). */
export interface SplitRingSizes {
  /** Descriptor table: 16·N. */
  readonly desc: number;
  /** Available ring: 6 + 2·N (with used_event). */
  readonly avail: number;
  /** Used ring: 6 + 8·N (with avail_event). */
  readonly used: number;
}
/** Byte sizes of the three areas of a split ring of `n` entries (virtio 1.2 section 2.7). */
export function splitRingSizes(n: number): SplitRingSizes {
  return {
    desc: VIRTQ_DESC_SIZE * n,
    avail: VIRTQ_AVAIL_OVERHEAD + VIRTQ_AVAIL_ELEM_SIZE * n,
    used: VIRTQ_USED_OVERHEAD + VIRTQ_USED_ELEM_SIZE * n,
  };
}

/** Offset of `used_event` (u16) in the available ring of size `n`: after ring[N]. */
export function usedEventOffset(n: number): number {
  return VIRTQ_AVAIL_RING + VIRTQ_AVAIL_ELEM_SIZE * n;
}
/** Offset of `avail_event` (u16) in the used ring of size `n`: after ring[N]. */
export function availEventOffset(n: number): number {
  return VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * n;
}

function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

/**
 * The legacy contiguous split layout (§2.7.2 "Legacy Interfaces"; `vring_init`/`vring_size`):
 * descriptors, then the avail ring, then the used ring at the next multiple of `align`.
 * Offsets are from the start of the ring. Modern transports place the three areas freely.
 */
export interface LegacySplitLayout {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** Offset of used_event (avail ring tail). */
  readonly usedEvent: number;
  /** Offset of avail_event (used ring tail). */
  readonly availEvent: number;
  /** Total bytes, as vring_size() computes it (through the trailing avail_event). */
  readonly total: number;
}
/** Offsets of a legacy (virtio 0.9.5) split ring of `n` entries laid out contiguously with the used ring aligned to `align`. */
export function legacySplitLayout(n: number, align: number): LegacySplitLayout {
  const avail = VIRTQ_DESC_SIZE * n;
  const used = alignUp(avail + VIRTQ_AVAIL_OVERHEAD + VIRTQ_AVAIL_ELEM_SIZE * n, align);
  return {
    desc: 0,
    avail,
    used,
    usedEvent: avail + usedEventOffset(n),
    availEvent: used + availEventOffset(n),
    total: used + VIRTQ_USED_OVERHEAD + VIRTQ_USED_ELEM_SIZE * n,
  };
}

/** Byte sizes of the three packed-ring areas for queue size `n` (§2.8.10). */
export interface PackedRingSizes {
  /** Descriptor ring: 16·N, align 16. */
  readonly desc: number;
  /** Driver event suppression area: 4, align 4. */
  readonly driverEvent: number;
  /** Device event suppression area: 4, align 4. */
  readonly deviceEvent: number;
}
/** Byte sizes of the three areas of a packed ring of `n` descriptors. */
export function packedRingSizes(n: number): PackedRingSizes {
  return { desc: VIRTQ_DESC_SIZE * n, driverEvent: VRING_PACKED_EVENT_SIZE, deviceEvent: VRING_PACKED_EVENT_SIZE };
}

/**
 * EVENT_IDX test (§2.7.7.2, `vring_need_event`): the other side asked to be notified when the
 * index passes `eventIdx`; we moved from `oldIdx` to `newIdx`. All u16, free-running.
 */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

/**
 * The same test for the packed ring, on positions linearised modulo 2N: position p with wrap
 * counter w is `p + (w ? 0 : N)` (the wrap counter starts at 1). Equivalent to Linux's
 * adjustment of event_idx by -N when the wrap counters differ.
 */
export function needEventMod(eventIdx: number, newIdx: number, oldIdx: number, modulus: number): boolean {
  const a = (((newIdx - eventIdx - 1) % modulus) + modulus) % modulus;
  const b = (((newIdx - oldIdx) % modulus) + modulus) % modulus;
  return a < b;
}
