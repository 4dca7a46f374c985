/**
 * Guest memory an embedder provides: its own SharedArrayBuffer(s) at the guest addresses it
 * chooses (an emulator's RAM, one buffer shared by several guests, memory laid out to match a
 * real machine). The region list is configuration, not guest input: it is checked once where it
 * enters (overlaps, bounds, alignment, the connector's limits) and refused with a
 * {@link ConfigError} naming the field, e.g. `memory.regions[1].address`.
 */
import { sharedBufferLength } from '../connector/untrusted.js';
import { ConfigError } from '../errors.js';
import { FlatMemory } from './flat-memory.js';
import type { GuestMemory, MemoryRegion } from './guest-memory.js';
import { RegionMemory } from './region-memory.js';

/** Guest addresses and buffer offsets of regions are multiples of this: aligned guest addresses stay aligned in the buffer (Int32 cells for `Atomics`, 64-bit ring fields). */
export const REGION_ALIGN = 8;

/** One region: `buffer[offset, offset+length)` appears at guest address `address`. */
export interface RegionSpec {
  /** Guest address of the region's first byte (a multiple of {@link REGION_ALIGN}). */
  address: number;
  /** The embedder's memory; a SharedArrayBuffer, because the other thread must see it. */
  buffer: SharedArrayBuffer;
  /** Byte offset of the region inside `buffer` (a multiple of {@link REGION_ALIGN}). Default 0. */
  offset?: number;
  /** Bytes in the region. Default: the rest of `buffer` after `offset`. */
  length?: number;
}

/** Memory an embedder gives a worker guest: the map, and the part its driver may allocate from. */
export interface EmbedderMemory {
  /** The regions, at most the connector's `regionsPerGuest`, together at most `memoryPerGuest` bytes, none overlapping another in guest addresses. */
  regions: readonly RegionSpec[];
  /**
   * The guest addresses the guest's allocator hands out for rings and buffers (the rest of the
   * memory stays the embedder's: its kernel image, its own devices). Must lie inside one region.
   * Default: the whole of `regions[0]`.
   */
  allocator?: { address: number; length: number };
}

/** An {@link EmbedderMemory} after {@link checkEmbedderMemory}: every default filled in. */
export interface CheckedEmbedderMemory {
  regions: MemoryRegion[];
  allocator: { address: number; length: number };
}

/** Limits a region list is checked against (a connector's). */
export interface RegionListLimits {
  regionsPerGuest: number;
  memoryPerGuest: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

// the brand check of the control protocol: a real SharedArrayBuffer of any realm, never a
// look-alike; it also loads where SharedArrayBuffer is missing (a page that is not isolated)
const sabLength = sharedBufferLength;

function whole(value: unknown, option: string, min: number, rule: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ConfigError(option, value, rule);
  return value;
}

/**
 * Check an embedder's memory and fill in its defaults. Throws a {@link ConfigError} whose option
 * names the field (`memory.regions[2].length`, `memory.allocator.address`) and whose message says
 * the rule: a SharedArrayBuffer, `offset`/`address` multiples of {@link REGION_ALIGN}, the range
 * inside its buffer and below 2^53, no two regions overlapping in guest addresses, the count and
 * total within `limits`, the allocator's range inside one region.
 */
export function checkEmbedderMemory(spec: unknown, limits: RegionListLimits, field = 'memory'): CheckedEmbedderMemory {
  if (typeof spec !== 'object' || spec === null) throw new ConfigError(field, spec, 'must be an object { regions, allocator? }');
  const list = (spec as EmbedderMemory).regions;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${field}.regions`, list, 'must be a non-empty array of regions');
  if (list.length > limits.regionsPerGuest)
    throw new ConfigError(`${field}.regions`, `[${list.length} regions]`, `more regions than the connector's regionsPerGuest limit (${limits.regionsPerGuest})`);
  const regions: MemoryRegion[] = [];
  let total = 0;
  list.forEach((r: RegionSpec, i: number) => {
    const name = `${field}.regions[${i}]`;
    if (typeof r !== 'object' || r === null) throw new ConfigError(name, r, 'must be an object { address, buffer, offset?, length? }');
    const size = sabLength(r.buffer);
    if (size < 0)
      throw new ConfigError(
        `${name}.buffer`,
        r.buffer instanceof ArrayBuffer ? '[ArrayBuffer]' : typeof r.buffer,
        'must be a SharedArrayBuffer (the other thread must see the same bytes)',
      );
    const offset = whole(r.offset ?? 0, `${name}.offset`, 0, `must be a non-negative integer, a multiple of ${REGION_ALIGN}`);
    if (offset % REGION_ALIGN !== 0) throw new ConfigError(`${name}.offset`, offset, `must be a multiple of ${REGION_ALIGN}`);
    if (offset >= size) throw new ConfigError(`${name}.offset`, offset, `must be inside its ${size}-byte buffer`);
    const length = whole(r.length ?? size - offset, `${name}.length`, 1, 'must be a positive integer');
    if (offset + length > size) throw new ConfigError(`${name}.length`, length, `[offset ${offset}, +${length}) runs past the end of its ${size}-byte buffer`);
    const address = whole(r.address, `${name}.address`, 0, `must be a non-negative integer, a multiple of ${REGION_ALIGN}`);
    if (address % REGION_ALIGN !== 0) throw new ConfigError(`${name}.address`, address, `must be a multiple of ${REGION_ALIGN}`);
    if (!Number.isSafeInteger(address + length)) throw new ConfigError(`${name}.address`, address, 'the region must end below 2^53');
    regions.forEach((o, j) => {
      if (address < o.address + o.length && o.address < address + length)
        throw new ConfigError(
          `${name}.address`,
          address,
          `[${hex(address)}, ${hex(address + length)}) overlaps ${field}.regions[${j}] [${hex(o.address)}, ${hex(o.address + o.length)})`,
        );
    });
    total += length;
    if (total > limits.memoryPerGuest)
      throw new ConfigError(`${name}.length`, length, `the regions total ${total} bytes, over the connector's memoryPerGuest limit (${limits.memoryPerGuest})`);
    regions.push({ address, buffer: r.buffer, offset, length });
  });
  const a = (spec as EmbedderMemory).allocator;
  let allocator = { address: regions[0]!.address, length: regions[0]!.length };
  if (a !== undefined) {
    if (typeof a !== 'object' || a === null) throw new ConfigError(`${field}.allocator`, a, 'must be an object { address, length }');
    const address = whole(a.address, `${field}.allocator.address`, 0, 'must be a non-negative integer');
    const length = whole(a.length, `${field}.allocator.length`, 1, 'must be a positive integer');
    if (!regions.some((r) => address >= r.address && address + length <= r.address + r.length))
      throw new ConfigError(`${field}.allocator.address`, address, `[${hex(address)}, ${hex(address + length)}) must lie inside one region`);
    allocator = { address, length };
  }
  return { regions, allocator };
}

/**
 * The {@link GuestMemory} for a checked region list: a {@link FlatMemory} when it is one region at
 * guest address 0 (an emulator's RAM: no region lookup on any access), else a {@link RegionMemory}.
 */
export function memoryOfRegions(regions: readonly MemoryRegion[]): GuestMemory {
  const r = regions[0];
  if (regions.length === 1 && r !== undefined && r.address === 0 && r.offset % REGION_ALIGN === 0) return new FlatMemory(r.buffer, r.offset, r.length);
  return new RegionMemory(regions);
}
