import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, VbusError } from '../errors.js';
import { GuestAllocator } from './allocator.js';

describe('GuestAllocator', () => {
  it('refuses bad construction parameters', () => {
    for (const [b, l] of [
      [-1, 16],
      [NaN, 16],
      [0.5, 16],
      [0, 0],
      [0, -4],
      [0, Infinity],
      [2 ** 53, 16],
    ] as const) {
      expect(() => new GuestAllocator(b, l)).toThrow(ConfigError);
    }
  });

  it('aligns blocks to absolute guest addresses (default 8)', () => {
    const a = new GuestAllocator(0x1003, 0x1000);
    const x = a.alloc(1);
    expect(x % 8).toBe(0);
    expect(x).toBe(0x1008);
    const y = a.alloc(10, 64);
    expect(y % 64).toBe(0);
    expect(y).toBe(0x1040);
    // the padding before y stays free and can serve a later small block
    const z = a.alloc(8, 8);
    expect(z).toBe(0x1010);
    expect(a.alloc(3, 1)).toBe(0x1003); // first fit: the 5 bytes of padding before 0x1008
    expect(a.inUse).toBe(1 + 10 + 8 + 3);
  });

  it('refuses bad sizes and alignments without changing state', () => {
    const a = new GuestAllocator(0, 256);
    a.alloc(16);
    const badSizes = [0, -1, 1.5, NaN, Infinity];
    for (const s of badSizes) expect(() => a.alloc(s)).toThrow(ConfigError);
    const badAligns = [0, -8, 3, 12, 1.5, NaN, 3 * 2 ** 31, 2 ** 32 + 8];
    for (const al of badAligns) expect(() => a.alloc(8, al), `align ${al}`).toThrow(ConfigError);
    expect(a.inUse).toBe(16);
    expect(a.alloc(240)).toBe(16);
  });

  it('throws a VbusError when out of space, and leaves the allocator usable', () => {
    const a = new GuestAllocator(0, 64);
    const x = a.alloc(32);
    const y = a.alloc(32);
    let err: unknown;
    try {
      a.alloc(1, 1);
    } catch (e) {
      err = e;
    }
    expect(VbusError.is(err)).toBe(true);
    expect((err as VbusError).code).toBe('alloc');
    expect(() => a.alloc(65)).toThrow(VbusError);
    a.release(x);
    expect(a.alloc(32)).toBe(x);
    a.release(y);
    // fragmentation: 32 free at the end, but not 32 aligned to 64
    expect(() => a.alloc(32, 64)).toThrow(VbusError);
    expect(a.alloc(32, 32)).toBe(32);
  });

  it('merges freed neighbours in either order, so the whole range comes back', () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
      [0, 2, 1],
      [2, 0, 1],
      [1, 2, 0],
    ]) {
      const a = new GuestAllocator(0x100, 96);
      const blocks = [a.alloc(32), a.alloc(32), a.alloc(32)];
      expect(() => a.alloc(1)).toThrow(VbusError);
      for (const i of order) a.release(blocks[i]!);
      expect(a.inUse).toBe(0);
      expect(a.alloc(96)).toBe(0x100);
    }
  });

  it('refuses releasing an address it did not hand out, or twice', () => {
    const a = new GuestAllocator(0, 64);
    const x = a.alloc(8);
    expect(() => a.release(x + 1)).toThrow(VbusError);
    a.release(x);
    expect(() => a.release(x)).toThrow(VbusError);
    expect(a.inUse).toBe(0);
    expect(a.alloc(64)).toBe(0);
  });

  it('property: live blocks are aligned, inside the range, never overlap; all freed gives the whole range back', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 300 }), alignLog: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 2048 }), fc.array(op, { maxLength: 80 }), (base, length, ops) => {
        const a = new GuestAllocator(base, length);
        const live = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const align = 1 << o.alignLog;
            let addr: number;
            try {
              addr = a.alloc(o.size, align);
            } catch (e) {
              expect(VbusError.is(e)).toBe(true);
              continue;
            }
            expect(addr % align).toBe(0);
            expect(addr).toBeGreaterThanOrEqual(base);
            expect(addr + o.size).toBeLessThanOrEqual(base + length);
            for (const [b, s] of live) expect(addr + o.size <= b || b + s <= addr, `[${addr},+${o.size}) overlaps [${b},+${s})`).toBe(true);
            live.set(addr, o.size);
          } else if (live.size > 0) {
            const keys = [...live.keys()];
            const k = keys[o.pick % keys.length]!;
            a.release(k);
            live.delete(k);
          }
          expect(a.inUse).toBe([...live.values()].reduce((x, y) => x + y, 0));
        }
        for (const k of live.keys()) a.release(k);
        expect(a.inUse).toBe(0);
        expect(a.alloc(length, 1)).toBe(base);
      }),
      { numRuns: 300 },
    );
  });
});
