import { ConfigError, le } from '@vbus/core';
import { VIRTQ_DESC_ADDR, VIRTQ_DESC_FLAGS, VIRTQ_DESC_LEN, VIRTQ_DESC_NEXT, VIRTQ_PACKED_DESC_FLAGS, VIRTQ_PACKED_DESC_ID } from './layout.js';

/**
 * Descriptors as plain values (split §2.7.5 and packed §2.8.13 side by side) and their
 * encoding. The device never works on these directly from guest memory: it copies each field
 * once into a {@link DescriptorChain} and checks the copy.
 */

/** A split-ring descriptor: addr u64, len u32, flags u16, next u16. */
export interface SplitDescriptor {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/** A packed-ring descriptor: addr u64, len u32, id u16, flags u16. */
export interface PackedDescriptor {
  addr: number;
  len: number;
  id: number;
  flags: number;
}

/** A driver buffer segment: `len` bytes of guest memory at `addr`. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
}

/** Decode a split descriptor at `offset` of `bytes`. */
export function decodeSplitDescriptor(bytes: Uint8Array, offset: number): SplitDescriptor {
  return {
    addr: le.getU64(bytes, offset + VIRTQ_DESC_ADDR),
    len: le.getU32(bytes, offset + VIRTQ_DESC_LEN),
    flags: le.getU16(bytes, offset + VIRTQ_DESC_FLAGS),
    next: le.getU16(bytes, offset + VIRTQ_DESC_NEXT),
  };
}

/** Encode a split descriptor at `offset` of `bytes`. */
export function encodeSplitDescriptor(bytes: Uint8Array, offset: number, d: SplitDescriptor): void {
  le.setU64(bytes, offset + VIRTQ_DESC_ADDR, d.addr);
  le.setU32(bytes, offset + VIRTQ_DESC_LEN, d.len);
  le.setU16(bytes, offset + VIRTQ_DESC_FLAGS, d.flags);
  le.setU16(bytes, offset + VIRTQ_DESC_NEXT, d.next);
}

/** Decode a packed descriptor at `offset` of `bytes`. */
export function decodePackedDescriptor(bytes: Uint8Array, offset: number): PackedDescriptor {
  return {
    addr: le.getU64(bytes, offset + VIRTQ_DESC_ADDR),
    len: le.getU32(bytes, offset + VIRTQ_DESC_LEN),
    id: le.getU16(bytes, offset + VIRTQ_PACKED_DESC_ID),
    flags: le.getU16(bytes, offset + VIRTQ_PACKED_DESC_FLAGS),
  };
}

/**
 * Encode a packed descriptor at `offset` of `bytes`, flags included. Drivers that publish a
 * descriptor write the flags separately and last (see the packed queue).
 */
export function encodePackedDescriptor(bytes: Uint8Array, offset: number, d: PackedDescriptor): void {
  le.setU64(bytes, offset + VIRTQ_DESC_ADDR, d.addr);
  le.setU32(bytes, offset + VIRTQ_DESC_LEN, d.len);
  le.setU16(bytes, offset + VIRTQ_PACKED_DESC_ID, d.id);
  le.setU16(bytes, offset + VIRTQ_PACKED_DESC_FLAGS, d.flags);
}

/** Refuse segments that cannot be encoded, before anything is written. */
export function checkSegments(name: string, readable: readonly Segment[], writable: readonly Segment[]): void {
  for (let k = 0; k < readable.length + writable.length; k++) {
    const seg = k < readable.length ? readable[k]! : writable[k - readable.length]!;
    if (!Number.isSafeInteger(seg.addr) || seg.addr < 0) throw new ConfigError(`${name}.add.addr`, seg.addr, 'must be a non-negative integer');
    if (!Number.isInteger(seg.len) || seg.len < 0 || seg.len > 0xffff_ffff) throw new ConfigError(`${name}.add.len`, seg.len, 'must be a u32');
  }
}
