import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { copyBytes } from './copy-bytes.js';
import { FrameCopy } from './frame-copy.js';
import { RegionMemory } from './region-memory.js';

describe('copyBytes', () => {
  it('copies like a reference copy between many arrays, views of one buffer among them, whatever its cache holds', () => {
    // more arrays than the cache has entries, shared and plain, several views of one buffer
    const shared = new SharedArrayBuffer(512);
    const plain = new ArrayBuffer(512);
    const arrays = [
      new Uint8Array(shared),
      new Uint8Array(shared, 4, 256),
      new Uint8Array(shared, 131, 300),
      new Uint8Array(plain),
      new Uint8Array(plain, 8, 400),
      new Uint8Array(300),
      new Uint8Array(new SharedArrayBuffer(300)),
    ];
    const copies = fc.array(fc.record({ s: fc.nat(arrays.length - 1), d: fc.nat(arrays.length - 1), sa: fc.nat(299), da: fc.nat(299), n: fc.nat(300), seed: fc.nat(255) }), {
      minLength: 1,
      maxLength: 40,
    });
    fc.assert(
      fc.property(copies, (ops) => {
        arrays.forEach((a, k) => a.forEach((_, i) => (a[i] = (i * 7 + k * 31) & 0xff)));
        for (const op of ops) {
          const src = arrays[op.s]!;
          const dst = arrays[op.d]!;
          const n = Math.min(op.n, src.length - op.sa, dst.length - op.da);
          if (n < 0) continue;
          src[op.sa] = op.seed;
          // the reference: a snapshot of the source range, then a byte loop (memmove semantics)
          const expected = src.slice(op.sa, op.sa + n);
          const before = { first: dst[op.da - 1], after: dst[op.da + n] };
          copyBytes(src, op.sa, dst, op.da, n);
          expect(Array.from(dst.subarray(op.da, op.da + n))).toEqual(Array.from(expected));
          // nothing outside the range changes (unless the source view overlaps it)
          if (src.buffer !== dst.buffer) expect({ first: dst[op.da - 1], after: dst[op.da + n] }).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('copies every word-aligned length up to 300 bytes between shared and plain memory, both ways, exactly', () => {
    // the word loop's three parts (16 words, 4 words, single words) at every split
    const shared = new Uint8Array(new SharedArrayBuffer(1024));
    const plain = new Uint8Array(1024);
    for (const [src, dst] of [
      [shared, plain],
      [plain, shared],
    ] as const) {
      for (let n = 0; n <= 300; n += 4) {
        for (const [sa, da] of [
          [4, 8],
          [64, 12],
        ] as const) {
          src.forEach((_, i) => (src[i] = (i * 13 + n) & 0xff));
          dst.fill(0xee);
          copyBytes(src, sa, dst, da, n);
          expect(Array.from(dst.subarray(da, da + n))).toEqual(Array.from(src.subarray(sa, sa + n)));
          expect([dst[da - 1], dst[da + n]]).toEqual([0xee, 0xee]);
        }
      }
    }
  });
});

describe('FrameCopy', () => {
  it('places each copy at its guest alignment and reuses one view while frames repeat', () => {
    const mem = RegionMemory.create(0x1000, 0x1000);
    mem.write(
      0x1004,
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    const copy = new FrameCopy(64);
    const a = copy.copyFrom(mem, 0x1004, 60);
    expect(a.byteOffset % 8).toBe(4);
    expect(Array.from(a)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(copy.copyFrom(mem, 0x1004, 60)).toBe(a);
    const b = copy.copyFrom(mem, 0x1008, 60);
    expect(b.byteOffset % 8).toBe(0);
    expect(b[0]).toBe(4);
    // a frame longer than the capacity grows the buffer; views made before are not reused
    const c = copy.copyFrom(mem, 0x1004, 100);
    expect(c.length).toBe(100);
    expect(c[99]).toBe(99);
    expect(copy.copyFrom(mem, 0x1004, 60)).not.toBe(a);
  });

  it('keeps the alignment of guest addresses above 4 GiB (read as doubles from a descriptor)', () => {
    const base = 2 ** 40;
    const mem = RegionMemory.create(base, 0x1000);
    mem.write(
      base + 0x203,
      Uint8Array.from({ length: 40 }, (_, i) => 100 + i),
    );
    const copy = new FrameCopy(64);
    for (const off of [0x203, 0x205, 0x208]) {
      const v = copy.copyFrom(mem, base + off, 20);
      expect(v.byteOffset % 8).toBe(off % 8);
      expect(v[0]).toBe(100 + off - 0x203);
    }
  });

  it('refuses a range outside guest memory without touching the copy', () => {
    const mem = RegionMemory.create(0x1000, 0x100);
    const copy = new FrameCopy(64);
    expect(() => copy.copyFrom(mem, 0x10f0, 32)).toThrow(/not inside one registered region/);
  });
});
