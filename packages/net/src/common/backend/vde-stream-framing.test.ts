import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeVdeStreamFrame, VDE_STREAM_MAX_FRAME, VDE_STREAM_PREFIX_LEN, VdeStreamDeframer } from './vde-stream-framing.js';

function collect() {
  const frames: number[][] = [];
  const errors: number[] = [];
  const d = new VdeStreamDeframer(
    (f) => frames.push(Array.from(f)),
    (n) => errors.push(n),
  );
  return { d, frames, errors };
}

describe('VDE stream framing (libvdeplug vdestream)', () => {
  it('pins the prefix (u16 big-endian) and the maximum (MAXPACKET 1521)', () => {
    expect(VDE_STREAM_PREFIX_LEN).toBe(2);
    expect(VDE_STREAM_MAX_FRAME).toBe(1521);
    expect(Array.from(encodeVdeStreamFrame(new Uint8Array([9, 8, 7])))).toEqual([0, 3, 9, 8, 7]);
    expect(Array.from(encodeVdeStreamFrame(new Uint8Array(1514)).subarray(0, 2))).toEqual([0x05, 0xea]);
    expect(() => encodeVdeStreamFrame(new Uint8Array(1522))).toThrow(/at most 1521 bytes, got 1522/);
  });

  it('skips zero lengths, stops at a length above the maximum and reports it once', () => {
    const { d, frames, errors } = collect();
    d.push(new Uint8Array([0, 0, 0, 1, 0xaa, 0x05, 0xf2, 1, 2, 3, 0, 1, 0xbb]));
    expect(frames).toEqual([[0xaa]]);
    expect(errors).toEqual([0x5f2]);
    expect(d.isBroken).toBe(true);
    d.push(new Uint8Array([0, 1, 0xcc]));
    expect(frames.length).toBe(1);
  });

  it('property: any frames, cut into any chunks (prefixes split too), come out whole and in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: VDE_STREAM_MAX_FRAME }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (input, cuts) => {
          const all = Uint8Array.from(input.flatMap((f) => Array.from(encodeVdeStreamFrame(f))));
          const { d, frames, errors } = collect();
          let off = 0;
          for (let i = 0; off < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            d.push(all.subarray(off, off + n));
            off += n;
          }
          expect(errors).toEqual([]);
          expect(frames).toEqual(input.map((f) => Array.from(f)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
