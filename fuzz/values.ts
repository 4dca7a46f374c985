/**
 * Value generators shared by the targets: boundary-heavy integers, and 64-bit values written as
 * decimal strings so that cases stay exact in JSON.
 */
import fc from 'fast-check';
import { GUEST_BASE, GUEST_BASE2, GUEST_BYTES, GUEST_BYTES2 } from './harness/venet.js';

/** u32 values near every boundary a ring cares about, plus anything. */
export function u32(near: number[] = []): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) },
    { weight: 2, arbitrary: fc.constantFrom(0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0xffff, 0x1_0000, 1518, 1519, 65536 + 4096, ...near) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
  );
}

export function u16(near: number[] = []): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) },
    { weight: 2, arbitrary: fc.constantFrom(0x7fff, 0x8000, 0xfffe, 0xffff, ...near) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffff }) },
  );
}

/** Guest addresses: inside, at the edges of, between and far outside the regions; as decimal strings (u64). */
export function address(): fc.Arbitrary<string> {
  const end1 = GUEST_BASE + GUEST_BYTES;
  const end2 = GUEST_BASE2 + GUEST_BYTES2;
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: GUEST_BASE, max: end1 - 1 }).map(String) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(0, GUEST_BASE - 1, GUEST_BASE, end1 - 64, end1 - 1, end1, GUEST_BASE2 - 1, GUEST_BASE2, end2 - 1, end2, 2 ** 32, 2 ** 53 - 1, 2 ** 53).map(String),
    },
    { weight: 1, arbitrary: fc.constantFrom('9007199254740993', '9223372036854775808', '18446744073709551615', '18446744073709551552') },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String) },
  );
}

/** A u64 as a decimal string: addresses or lengths. */
export function u64(): fc.Arbitrary<string> {
  return fc.oneof(u32().map(String), address());
}

/** Bytes as a plain array (JSON-friendly). */
export function bytes(maxLength = 32): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: 255 }), { maxLength });
}

/** Write a u64 given as a decimal string (or number), wrapping to 64 bits. */
export function setU64(view: Uint8Array, offset: number, value: string | number): void {
  new DataView(view.buffer, view.byteOffset, view.byteLength).setBigUint64(offset, BigInt.asUintN(64, BigInt(value)), true);
}
