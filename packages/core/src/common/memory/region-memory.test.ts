import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, MemoryAccessError, VbusError } from '../errors.js';
import { RegionMemory } from './region-memory.js';
import { getU64, setU64Big } from './le.js';

/** Two regions back to back: [0x1000, 0x1100) and [0x1100, 0x1200), then a hole, then [0x2000, 0x2010). */
function adjacent(): RegionMemory {
  const m = new RegionMemory();
  m.addRegion(0x1000, new SharedArrayBuffer(0x100));
  m.addRegion(0x1100, new SharedArrayBuffer(0x100));
  m.addRegion(0x2000, new ArrayBuffer(0x10));
  return m;
}

function expectMemoryError(f: () => unknown): MemoryAccessError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MemoryAccessError);
    expect(VbusError.is(e)).toBe(true);
    expect((e as VbusError).code).toBe('memory');
    return e as MemoryAccessError;
  }
  throw new Error('expected a MemoryAccessError');
}

describe('RegionMemory bounds', () => {
  it('reads, writes and views inside one region', () => {
    const m = adjacent();
    m.write(0x10fc, Uint8Array.of(1, 2, 3, 4));
    expect([...m.read(0x10fc, 4)]).toEqual([1, 2, 3, 4]);
    const v = m.view(0x10fc, 4);
    v[0] = 9; // a view writes through
    expect(m.read(0x10fc, 1)[0]).toBe(9);
    const copy = m.read(0x10fc, 4);
    copy[1] = 77; // a read is a snapshot
    expect(m.read(0x10fd, 1)[0]).toBe(2);
    // exactly up to the end, and the empty range at the end
    expect(m.view(0x11ff, 1).length).toBe(1);
    expect(m.view(0x1100, 0).length).toBe(0);
    expect(m.contains(0x1000, 0x100)).toBe(true);
  });

  it('an access crossing a region end is an error even when the next region starts right there', () => {
    const m = adjacent();
    expect(m.contains(0x10ff, 2)).toBe(false);
    expect(m.contains(0x1000, 0x101)).toBe(false);
    const e = expectMemoryError(() => m.view(0x10ff, 2));
    expect(e.address).toBe(0x10ff);
    expect(e.length).toBe(2);
    expect(e.operation).toBe('view');
    expectMemoryError(() => m.read(0x1000, 0x200));
    expectMemoryError(() => m.write(0x10fe, new Uint8Array(4)));
    expectMemoryError(() => m.int32(0x10fc, 2));
    // and the failed write changed nothing
    expect([...m.read(0x10fe, 2)]).toEqual([0, 0]);
    expect([...m.read(0x1100, 2)]).toEqual([0, 0]);
  });

  it('holes, and addresses before and after every region, are errors', () => {
    const m = adjacent();
    expectMemoryError(() => m.read(0x1200, 1));
    expectMemoryError(() => m.read(0x1fff, 2));
    expectMemoryError(() => m.read(0x0fff, 1));
    expectMemoryError(() => m.read(0x2010, 1));
    expectMemoryError(() => m.read(0, 1));
    expectMemoryError(() => new RegionMemory().read(0, 1));
  });

  it('negative, fractional, NaN, infinite and huge addresses and lengths are errors, and contains() never throws', () => {
    const m = adjacent();
    const bad: Array<[number, number]> = [
      [-1, 1],
      [-0x1000, 0x2000],
      [0x1000, -1],
      [4096.5, 1],
      [0x1000, 1.5],
      [NaN, 1],
      [0x1000, NaN],
      [Infinity, 1],
      [0x1000, Infinity],
      [-Infinity, 1],
      [2 ** 53, 1],
      [2 ** 53 - 1, 1],
      [2 ** 64, 1],
      [Number.MAX_VALUE, 1],
      [0x1000, 2 ** 60],
    ];
    for (const [a, l] of bad) {
      expect(m.contains(a, l), `contains(${a}, ${l})`).toBe(false);
      expectMemoryError(() => m.view(a, l));
      expectMemoryError(() => m.read(a, l));
      if (!(a >= 0x1000 && a <= 0x2000 && Number.isInteger(a))) expectMemoryError(() => m.int32(a, 1));
    }
    expectMemoryError(() => m.write(NaN, new Uint8Array(1)));
    expectMemoryError(() => m.write(-1, new Uint8Array(1)));
  });

  it('u64 values from the guest above 2^53 fail the bounds check (no silent wrap into a region)', () => {
    const m = adjacent();
    const slot = m.view(0x1000, 8);
    // 2^64 - 1, 2^53 + 0x1000 (rounds in a double), and 2^63 + 0x1000 (low bits point into a region)
    for (const v of [0xffff_ffff_ffff_ffffn, (1n << 53n) + 0x1000n, (1n << 63n) + 0x1000n, (1n << 32n) + 0x1000n]) {
      setU64Big(slot, 0, v);
      const addr = getU64(slot, 0);
      expect(addr).toBeGreaterThan(0x2010);
      expect(m.contains(addr, 1)).toBe(false);
      expectMemoryError(() => m.read(addr, 1));
    }
  });

  it('random ranges: contains() agrees with the regions and view() with contains()', () => {
    const m = adjacent();
    const regions = m.regions();
    fc.assert(
      fc.property(fc.integer({ min: -0x100, max: 0x2100 }), fc.integer({ min: -4, max: 0x300 }), (a, l) => {
        const inside = l >= 0 && regions.some((r) => a >= r.address && a + l <= r.address + r.length);
        expect(m.contains(a, l)).toBe(inside);
        if (inside) expect(m.view(a, l).length).toBe(l);
        else expectMemoryError(() => m.view(a, l));
      }),
    );
  });
});

describe('RegionMemory map', () => {
  it('refuses overlapping and bad regions and leaves the map unchanged', () => {
    const m = adjacent();
    m.write(0x1000, Uint8Array.of(42));
    const before = m.regions();
    const attempts: Array<() => unknown> = [
      () => m.addRegion(0x10ff, new ArrayBuffer(1)), // last byte of the first region
      () => m.addRegion(0x0f00, new ArrayBuffer(0x101)), // runs one byte into the first
      () => m.addRegion(0x0f00, new ArrayBuffer(0x1000)), // covers everything
      () => m.addRegion(0x1150, new ArrayBuffer(0x10)), // inside the second
      () => m.addRegion(0x200f, new ArrayBuffer(0x10)), // tail of the third
      () => m.addRegion(-1, new ArrayBuffer(1)),
      () => m.addRegion(NaN, new ArrayBuffer(1)),
      () => m.addRegion(12288.5, new ArrayBuffer(1)),
      () => m.addRegion(0x3000, new ArrayBuffer(0)),
      () => m.addRegion(0x3000, new ArrayBuffer(8), 4, 8), // does not fit the buffer
      () => m.addRegion(0x3000, new ArrayBuffer(8), -1, 4),
      () => m.addRegion(2 ** 53 - 4, new ArrayBuffer(8)), // end beyond 2^53
    ];
    for (const f of attempts) {
      expect(f).toThrow(ConfigError);
      expect(m.regions()).toEqual(before);
    }
    expect(m.read(0x1000, 1)[0]).toBe(42);
    expect(m.contains(0x3000, 1)).toBe(false);
  });

  it('maps a slice of a buffer at its offset, keeps regions sorted, and unmaps', () => {
    const buf = new SharedArrayBuffer(64);
    new Uint8Array(buf)[16] = 5;
    const m = new RegionMemory();
    m.addRegion(0x9000, new ArrayBuffer(4));
    m.addRegion(0x100, buf, 16, 32);
    expect(m.read(0x100, 1)[0]).toBe(5);
    expect(m.regions().map((r) => r.address)).toEqual([0x100, 0x9000]);
    expect(m.regions()[0]).toMatchObject({ address: 0x100, length: 32, offset: 16, buffer: buf });
    expect(m.contains(0x100 + 32, 1)).toBe(false);
    // constructing from another map's regions shares the bytes
    const twin = new RegionMemory(m.regions());
    twin.write(0x101, Uint8Array.of(6));
    expect(m.read(0x101, 1)[0]).toBe(6);
    expect(m.removeRegion(0x100)).toBe(true);
    expect(m.removeRegion(0x100)).toBe(false);
    expectMemoryError(() => m.read(0x100, 1));
    expect(m.read(0x9000, 4).length).toBe(4);
    // the unmapped range can be mapped again
    m.addRegion(0x100, new ArrayBuffer(4));
    expect(m.contains(0x100, 4)).toBe(true);
  });

  it('RegionMemory.create maps one SharedArrayBuffer', () => {
    const m = RegionMemory.create(0x4000, 128);
    const [r] = m.regions();
    expect(r).toMatchObject({ address: 0x4000, length: 128, offset: 0 });
    expect(r!.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('RegionMemory int32', () => {
  it('gives Atomics-capable cells over the same bytes', () => {
    const m = RegionMemory.create(0x1000, 64);
    const cells = m.int32(0x1008, 2);
    expect(cells.length).toBe(2);
    Atomics.store(cells, 1, 0x01020304);
    expect([...m.read(0x100c, 4)]).toEqual([4, 3, 2, 1]);
    expect(Atomics.notify(cells, 0, 1)).toBe(0); // SharedArrayBuffer-backed
  });

  it('refuses addresses that are not 4-aligned in the backing buffer', () => {
    const m = RegionMemory.create(0x1000, 64);
    for (const a of [0x1001, 0x1002, 0x1003]) {
      const e = expectMemoryError(() => m.int32(a, 1));
      expect(e.message).toMatch(/aligned/);
    }
    // alignment is that of the backing buffer: a region mapped at buffer offset 2
    const odd = new RegionMemory();
    odd.addRegion(0x2000, new SharedArrayBuffer(32), 2, 24);
    expectMemoryError(() => odd.int32(0x2000, 1));
    expect(odd.int32(0x2002, 1).length).toBe(1);
  });

  it('refuses negative counts and ranges past the region', () => {
    const m = RegionMemory.create(0x1000, 64);
    expectMemoryError(() => m.int32(0x1000, -1));
    expectMemoryError(() => m.int32(0x1000, 17));
    expect(m.int32(0x1000, 16).length).toBe(16);
  });
});

describe('RegionMemory copy helpers', () => {
  it('copyOut / copyIn / copyWithin copy like view().set(), short and long, same and other buffers', () => {
    const m = adjacent();
    const src = Uint8Array.from({ length: 0x100 }, (_, i) => i);
    m.write(0x1000, src);
    for (const len of [0, 1, 7, 200, 0x100]) {
      const out = new Uint8Array(0x110).fill(0xaa);
      m.copyOut(0x1000, out, 3, len);
      expect(Array.from(out.subarray(3, 3 + len))).toEqual(Array.from(src.subarray(0, len)));
      expect(out[2]).toBe(0xaa);
      expect(out[3 + len]).toBe(0xaa);
    }
    // 4-aligned both ends: the word loop (short) and one memcpy (long)
    for (const [at, len] of [
      [0x20, 64],
      [0x40, 12],
      [0x10, 200],
    ] as const) {
      const out = new Uint8Array(0x110).fill(0xaa);
      m.copyOut(0x1000 + at, out, 8, len);
      expect(Array.from(out.subarray(8, 8 + len))).toEqual(Array.from(src.subarray(at, at + len)));
      expect([out[7], out[8 + len]]).toEqual([0xaa, 0xaa]);
    }
    // a target view on the guest's own buffer (copyWithin path)
    const own = m.view(0x1000, 0x100);
    m.copyOut(0x1010, own.subarray(0x80), 0, 16);
    expect(Array.from(own.subarray(0x80, 0x90))).toEqual(Array.from(src.subarray(0x10, 0x20)));
    // copyIn: whole source, partial short, partial long
    const data = Uint8Array.from({ length: 0x100 }, (_, i) => 255 - i);
    m.copyIn(0x1100, data, 0, 0x100);
    expect(Array.from(m.view(0x1100, 0x100))).toEqual(Array.from(data));
    m.copyIn(0x1100, src, 5, 10);
    expect(Array.from(m.view(0x1100, 10))).toEqual(Array.from(src.subarray(5, 15)));
    m.copyIn(0x1100, src, 1, 0xff);
    expect(Array.from(m.view(0x1100, 0xff))).toEqual(Array.from(src.subarray(1)));
    // copyWithin: across regions, and overlapping inside one (memmove)
    m.write(0x1000, src);
    m.copyWithin(0x1100, 0x1000, 0x40);
    expect(Array.from(m.view(0x1100, 0x40))).toEqual(Array.from(src.subarray(0, 0x40)));
    m.copyWithin(0x1004, 0x1000, 0x20);
    expect(Array.from(m.view(0x1004, 0x20))).toEqual(Array.from(src.subarray(0, 0x20)));
  });

  it('refuse ranges outside one region (MemoryAccessError) and targets too small (RangeError), copying nothing', () => {
    const m = adjacent();
    const b = new Uint8Array(16);
    expectMemoryError(() => m.copyOut(0x10f8, b, 0, 16));
    expectMemoryError(() => m.copyIn(0x10f8, b, 0, 16));
    expectMemoryError(() => m.copyWithin(0x1000, 0x10f8, 16));
    expectMemoryError(() => m.copyWithin(0x10f8, 0x1000, 16));
    expectMemoryError(() => m.copyOut(-1, b, 0, 1));
    expect(() => m.copyOut(0x1000, b, 8, 9)).toThrow(RangeError);
    expect(() => m.copyIn(0x1000, b, -1, 1)).toThrow(RangeError);
    expect(Array.from(m.view(0x1000, 16))).toEqual(new Array(16).fill(0));
  });
});
