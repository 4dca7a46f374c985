// The split ring's shared parts (virtio 1.2 §2.7): where its three areas are, the device's
// saved position, and the checks and mapping both halves use.
import { ConfigError, le } from '@vbus/core';
import { VIRTQ_AVAIL_ALIGN, VIRTQ_DESC_ALIGN, VIRTQ_DESC_SIZE, VIRTQ_MAX_SIZE, VIRTQ_USED_ALIGN, isValidSplitSize, splitRingSizes } from './layout.js';
import { RingArea } from './ring-area.js';
import type { VirtqueueOptions } from './virtqueue.js';

/** Guest addresses of the three split-ring areas (§2.7). */
export interface SplitQueueAddresses {
  /** Descriptor table, 16·N bytes, 16-aligned. */
  readonly descTable: number;
  /** Available ring, 6+2·N bytes, 2-aligned. */
  readonly availRing: number;
  /** Used ring, 6+8·N bytes, 4-aligned. */
  readonly usedRing: number;
}

/** The device's position in a split ring: plain data to save and restore. */
export interface SplitQueueState {
  /** Next avail.idx value to consume (free-running u16). */
  readonly nextAvail: number;
  /** Next used.idx value to publish (free-running u16). */
  readonly nextUsed: number;
}

/** Refuse a size the split layout cannot have (§2.7: a power of two, at most 32768). */
export function checkSplitSize(name: string, size: number): void {
  if (!isValidSplitSize(size)) throw new ConfigError(`${name}.size`, size, `split queue size must be a power of two in 1..${VIRTQ_MAX_SIZE}`);
}

/** A starting ring index: a u16, 0 when not given. */
export function checkU16Index(option: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ConfigError(option, v, 'must be a u16');
  return v;
}

/** Map the three areas, each checked for size, alignment and bounds. */
export function mapSplitRing(config: VirtqueueOptions & SplitQueueAddresses): { desc: RingArea; avail: RingArea; used: RingArea } {
  const s = splitRingSizes(config.size);
  return {
    desc: RingArea.map(config.memory, config.name, 'descriptor table', config.descTable, s.desc, VIRTQ_DESC_ALIGN),
    avail: RingArea.map(config.memory, config.name, 'available ring', config.availRing, s.avail, VIRTQ_AVAIL_ALIGN),
    used: RingArea.map(config.memory, config.name, 'used ring', config.usedRing, s.used, VIRTQ_USED_ALIGN),
  };
}

/** Write one descriptor table entry (driver side). */
export function writeSplitDesc(bytes: Uint8Array, i: number, addr: number, len: number, flags: number, next: number): void {
  const off = i * VIRTQ_DESC_SIZE;
  le.setU64(bytes, off, addr);
  le.setU32(bytes, off + 8, len);
  le.setU16(bytes, off + 12, flags);
  le.setU16(bytes, off + 14, next);
}
