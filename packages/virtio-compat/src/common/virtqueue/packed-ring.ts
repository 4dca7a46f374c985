// The packed ring's shared parts (virtio 1.2 §2.8): where its three areas are, the device's
// saved position, the wrap-counter tests, and the checks and mapping both halves use.
import { ConfigError } from '@vbus/core';
import {
  VIRTQ_DESC_ALIGN,
  VIRTQ_MAX_SIZE,
  VIRTQ_PACKED_DESC_FLAGS,
  VRING_PACKED_DESC_F_AVAIL_BIT,
  VRING_PACKED_DESC_F_USED_BIT,
  VRING_PACKED_EVENT_ALIGN,
  isValidPackedSize,
  packedRingSizes,
} from './layout.js';
import { RingArea } from './ring-area.js';
import type { VirtqueueOptions } from './virtqueue.js';

/** Guest addresses of the three packed-ring areas (§2.8.10). */
export interface PackedQueueAddresses {
  /** Descriptor ring, 16·N bytes, 16-aligned. */
  readonly descRing: number;
  /** Driver event suppression area (written by the driver), 4 bytes, 4-aligned. */
  readonly driverEvent: number;
  /** Device event suppression area (written by the device), 4 bytes, 4-aligned. */
  readonly deviceEvent: number;
}

/** The device's position in a packed ring: plain data to save and restore. */
export interface PackedQueueState {
  readonly nextAvail: number;
  /** Driver ring wrap counter (starts at 1). */
  readonly availWrap: 0 | 1;
  readonly nextUsed: number;
  /** Device ring wrap counter (starts at 1). */
  readonly usedWrap: 0 | 1;
}

/** Refuse a size the packed layout cannot have (§2.8: 1..32768). */
export function checkPackedSize(name: string, size: number): void {
  if (!isValidPackedSize(size)) throw new ConfigError(`${name}.size`, size, `packed queue size must be in 1..${VIRTQ_MAX_SIZE}`);
}

/** Map the three areas, each checked for size, alignment and bounds. */
export function mapPackedRing(config: VirtqueueOptions & PackedQueueAddresses): { desc: RingArea; driver: RingArea; device: RingArea } {
  const s = packedRingSizes(config.size);
  return {
    desc: RingArea.map(config.memory, config.name, 'descriptor ring', config.descRing, s.desc, VIRTQ_DESC_ALIGN),
    driver: RingArea.map(config.memory, config.name, 'driver event suppression area', config.driverEvent, s.driverEvent, VRING_PACKED_EVENT_ALIGN),
    device: RingArea.map(config.memory, config.name, 'device event suppression area', config.deviceEvent, s.deviceEvent, VRING_PACKED_EVENT_ALIGN),
  };
}

/** A descriptor is available when AVAIL equals the wrap counter and USED does not (§2.8.1). */
export function isAvail(flags: number, wrap: number): boolean {
  return ((flags >>> VRING_PACKED_DESC_F_AVAIL_BIT) & 1) === wrap && ((flags >>> VRING_PACKED_DESC_F_USED_BIT) & 1) !== wrap;
}
/** A descriptor is used when AVAIL and USED both equal the wrap counter (§2.8.1). */
export function isUsed(flags: number, wrap: number): boolean {
  return ((flags >>> VRING_PACKED_DESC_F_AVAIL_BIT) & 1) === wrap && ((flags >>> VRING_PACKED_DESC_F_USED_BIT) & 1) === wrap;
}

/** Offset of a descriptor's flags within its 16 bytes. */
export const FLAGS = VIRTQ_PACKED_DESC_FLAGS;
