import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as le from './le.js';

describe('little-endian access', () => {
  it('writes the bytes in little-endian order', () => {
    const b = new Uint8Array(8);
    le.setU16(b, 0, 0x1234);
    expect([...b.subarray(0, 2)]).toEqual([0x34, 0x12]);
    le.setU32(b, 0, 0xdeadbeef);
    expect([...b.subarray(0, 4)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    le.setU64(b, 0, 0x1_0203_0405);
    expect([...b]).toEqual([5, 4, 3, 2, 1, 0, 0, 0]);
    le.setBE16(b, 0, 0x1234);
    expect([...b.subarray(0, 2)]).toEqual([0x12, 0x34]);
    le.setBE32(b, 0, 0xdeadbeef);
    expect([...b.subarray(0, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('round-trips every width at any offset', () => {
    fc.assert(
      fc.property(
        fc.nat(8),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.maxSafeNat(),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (o, v16, v32, v53, v64) => {
          const b = new Uint8Array(16);
          le.setU8(b, o, v16 & 0xff);
          expect(le.getU8(b, o)).toBe(v16 & 0xff);
          le.setU16(b, o, v16);
          expect(le.getU16(b, o)).toBe(v16);
          le.setBE16(b, o, v16);
          expect(le.getBE16(b, o)).toBe(v16);
          le.setU32(b, o, v32);
          expect(le.getU32(b, o)).toBe(v32);
          le.setBE32(b, o, v32);
          expect(le.getBE32(b, o)).toBe(v32);
          le.setU64(b, o, v53);
          expect(le.getU64(b, o)).toBe(v53);
          expect(le.getU64Big(b, o)).toBe(BigInt(v53));
          le.setU64Big(b, o, v64);
          expect(le.getU64Big(b, o)).toBe(v64);
          // as a number: exact below 2^53, and never below 2^53 when the value is not
          const n = le.getU64(b, o);
          if (v64 < 1n << 53n) expect(n).toBe(Number(v64));
          else expect(n).toBeGreaterThanOrEqual(2 ** 53);
        },
      ),
    );
  });
});
