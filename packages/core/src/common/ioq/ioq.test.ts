import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryAccessError, RingError, VbusError } from '../errors.js';
import { RegionMemory } from '../memory/region-memory.js';
import { getU32 } from '../memory/le.js';
import { Side } from '../signal/layout.js';
import { Ioq } from './ioq.js';
import {
  IOQ_DESC_SIZE,
  IOQ_HEADER_SIZE,
  IOQ_IDX_HEAD,
  IOQ_IDX_TAIL,
  IOQ_ITER_AUTOUPDATE,
  IOQ_ITER_NOFLIPOWNER,
  IOQ_MAGIC,
  IOQ_MAX_COUNT,
  IOQ_OFF_COUNT,
  IOQ_VERSION,
  IoqIndex,
  IoqSeek,
  ioqByteLength,
} from './layout.js';
import { IoqMockDriver } from '../../testing/ioq-mock-driver.js';

const RING = 0x1000;

function ring(count = 4) {
  const memory = RegionMemory.create(RING, ioqByteLength(count));
  Ioq.format(memory, RING, count);
  const wakes = { north: 0, south: 0 };
  const north = Ioq.attach(memory, RING, Side.North, () => wakes.south++, 'q');
  const south = Ioq.attach(memory, RING, Side.South, () => wakes.north++, 'q');
  return { memory, north, south, wakes };
}

function ringError(f: () => unknown): RingError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RingError);
    return e as RingError;
  }
  throw new Error('expected a RingError');
}

/** Raw snapshot of both indices and every descriptor's sown byte. */
function snapshot(q: Ioq) {
  const idx = (i: IoqIndex) => ({
    head: q.readIndex(i, IOQ_IDX_HEAD),
    tail: q.readIndex(i, IOQ_IDX_TAIL),
    full: q.isFull(i),
  });
  return { valid: idx(IoqIndex.Valid), inuse: idx(IoqIndex.Inuse), sown: Array.from({ length: q.count }, (_, i) => q.sown(i)) };
}

describe('Ioq.format / attach', () => {
  it('formats header, signal and descriptors, all owned by north', () => {
    const { memory, north, south } = ring(4);
    const h = memory.view(RING, IOQ_HEADER_SIZE);
    expect(getU32(h, 0)).toBe(IOQ_MAGIC);
    expect(getU32(h, 4)).toBe(IOQ_VERSION);
    expect(getU32(h, IOQ_OFF_COUNT)).toBe(4);
    expect(north.count).toBe(4);
    expect(south.count).toBe(4);
    expect(snapshot(south)).toEqual({
      valid: { head: 0, tail: 0, full: false },
      inuse: { head: 0, tail: 0, full: false },
      sown: [false, false, false, false],
    });
    for (let i = 0; i < 4; i++) {
      expect(north.owned(i)).toBe(true);
      expect(south.owned(i)).toBe(false);
    }
    expect(north.signal.enabled).toBe(true);
    expect(Ioq.byteLength(4)).toBe(IOQ_HEADER_SIZE + 4 * IOQ_DESC_SIZE);
  });

  it('format refuses a bad count, and a ring that does not fit', () => {
    const memory = RegionMemory.create(RING, ioqByteLength(4));
    for (const c of [0, -1, 1.5, NaN, IOQ_MAX_COUNT + 1]) expect(() => Ioq.format(memory, RING, c)).toThrow(RingError);
    expect(() => Ioq.format(memory, RING, 5)).toThrow(MemoryAccessError);
  });

  it('attach refuses bad magic, version, count, alignment, and rings outside memory', () => {
    const { memory } = ring(4);
    const h = memory.view(RING, IOQ_HEADER_SIZE);
    const attach = (addr = RING, max?: number) => Ioq.attach(memory, addr, Side.South, () => {}, 'q', max);
    expect(ringError(() => attach(RING + 4)).rule).toMatch(/aligned/);
    expect(ringError(() => attach(RING + 8)).rule).toMatch(/magic/); // no ring there
    expect(ringError(() => attach(0)).rule).toMatch(/inside guest memory/);
    expect(() => attach(RING, 3)).toThrow(RingError); // count above the host's limit
    h[0] ^= 1;
    const e = ringError(() => attach());
    expect(e).toMatchObject({ ring: 'q', index: -1, value: IOQ_MAGIC ^ 1 });
    h[0] ^= 1;
    h[4] = 3;
    expect(ringError(() => attach()).rule).toMatch(/version/);
    h[4] = IOQ_VERSION;
    for (const c of [0, 5, 0xffffffff, IOQ_MAX_COUNT + 1]) {
      h.set([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24], IOQ_OFF_COUNT);
      expect(() => attach()).toThrow(RingError);
    }
    h.set([4, 0, 0, 0], IOQ_OFF_COUNT);
    h[8] ^= 1; // the embedded signal's magic
    expect(() => attach()).toThrow(RingError);
    h[8] ^= 1;
    expect(attach().count).toBe(4);
  });

  it('the count is fixed at attach: changing it in memory afterwards has no effect', () => {
    const { memory, south } = ring(4);
    memory.view(RING + IOQ_OFF_COUNT, 4).set([0xff, 0xff, 0, 0]);
    expect(south.count).toBe(4);
    expect(() => south.iterator(IoqIndex.Inuse).seek(IoqSeek.Set, 4)).toThrow(RingError);
  });
});

describe('IoqIterator push / pop', () => {
  it('north pushes at the tail: advances, flips ownership to south, signals if AUTOUPDATE', () => {
    const { north, south, wakes } = ring(4);
    const it = north.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE).seek(IoqSeek.Tail);
    it.cookie = 0xabc;
    it.ptr = 2 ** 40;
    it.len = 1500;
    it.valid = true;
    it.push();
    expect(it.pos).toBe(1);
    expect(north.readIndex(IoqIndex.Inuse, IOQ_IDX_TAIL)).toBe(1);
    expect(south.sown(0)).toBe(true);
    expect(south.owned(0)).toBe(true);
    expect(north.owned(0)).toBe(false);
    expect(wakes.south).toBe(1);
    expect(north.signal.counters.injected).toBe(1);
    const s = south.iterator(IoqIndex.Inuse).seek(IoqSeek.Head);
    expect([s.cookie, s.ptr, s.len, s.valid, s.owned]).toEqual([0xabc, 2 ** 40, 1500, true, true]);
  });

  it('without AUTOUPDATE a push does not signal; NOFLIPOWNER keeps ownership', () => {
    const { north, wakes } = ring(4);
    const v = north.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER).seek(IoqSeek.Tail);
    v.push();
    expect(north.owned(0)).toBe(true);
    expect(north.readIndex(IoqIndex.Valid, IOQ_IDX_TAIL)).toBe(1);
    const u = north.iterator(IoqIndex.Inuse).seek(IoqSeek.Tail);
    u.push();
    expect(north.owned(0)).toBe(false);
    expect(wakes.south).toBe(0);
    expect(north.signal.counters).toMatchObject({ injected: 0, suppressed: 0 });
  });

  it('push only at the tail, pop only at the head, each only when owned; a refused call changes nothing', () => {
    const { north, south } = ring(4);
    const n = north.iterator(IoqIndex.Inuse);
    n.seek(IoqSeek.Set, 1);
    expect(ringError(() => n.push()).rule).toMatch(/tail/);
    n.seek(IoqSeek.Tail).push(); // slot 0 -> south
    const s = south.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE);
    s.seek(IoqSeek.Set, 1);
    const before = snapshot(south);
    expect(ringError(() => s.pop()).rule).toMatch(/head/);
    s.seek(IoqSeek.Head);
    // north may not pop what south owns
    const nh = north.iterator(IoqIndex.Inuse).seek(IoqSeek.Head);
    expect(ringError(() => nh.pop()).rule).toMatch(/not own/);
    // south may not push (it owns nothing at the tail)
    const st = south.iterator(IoqIndex.Inuse).seek(IoqSeek.Tail);
    expect(ringError(() => st.push()).rule).toMatch(/not own/);
    expect(snapshot(south)).toEqual(before);
    s.pop();
    expect(north.owned(0)).toBe(true);
    expect(south.readIndex(IoqIndex.Inuse, IOQ_IDX_HEAD)).toBe(1);
    expect(south.signal.counters.injected).toBe(1); // AUTOUPDATE on pop too
  });

  it('sets full when the tail meets the head, clears it on pop, and wraps modulo count', () => {
    const { north, south } = ring(3);
    const n = north.iterator(IoqIndex.Inuse).seek(IoqSeek.Tail);
    const s = south.iterator(IoqIndex.Inuse).seek(IoqSeek.Head);
    for (let i = 0; i < 3; i++) n.push();
    expect(n.pos).toBe(0);
    expect(snapshot(north).inuse).toEqual({ head: 0, tail: 0, full: true });
    s.pop();
    expect(snapshot(north).inuse).toEqual({ head: 1, tail: 0, full: false });
    n.push(); // slot 0 again
    expect(snapshot(north).inuse).toEqual({ head: 1, tail: 1, full: true });
    for (let i = 0; i < 3; i++) s.pop();
    expect(snapshot(north).inuse).toEqual({ head: 1, tail: 1, full: false });
    expect(s.pos).toBe(1);
  });

  it('refuses a push into a full index and a pop from an empty one, even where the side owns the slot', () => {
    // Under the venet convention north owns both free slots and completed-but-unreclaimed ones,
    // so ownership alone cannot stop north from overrunning its valid index.
    const { north } = ring(2);
    const v = north.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER);
    v.seek(IoqSeek.Head);
    expect(ringError(() => v.pop()).rule).toMatch(/empty/);
    expect(snapshot(north).valid).toEqual({ head: 0, tail: 0, full: false });
    v.seek(IoqSeek.Tail).push();
    v.push();
    expect(snapshot(north).valid).toEqual({ head: 0, tail: 0, full: true });
    expect(north.owned(0)).toBe(true);
    expect(ringError(() => v.push()).rule).toMatch(/full/);
    expect(snapshot(north).valid).toEqual({ head: 0, tail: 0, full: true });
    v.seek(IoqSeek.Head).pop();
    v.pop();
    expect(snapshot(north).valid).toEqual({ head: 0, tail: 0, full: false });
    expect(() => v.pop()).toThrow(RingError);
  });

  it('seek head / tail / next (wrapping) / set, with validation of the position', () => {
    const { north } = ring(3);
    const it = north.iterator(IoqIndex.Inuse);
    expect(it.seek(IoqSeek.Set, 2).pos).toBe(2);
    expect(it.seek(IoqSeek.Next).pos).toBe(0);
    expect(it.seek(IoqSeek.Next).pos).toBe(1);
    for (const bad of [-1, 3, 1.5, NaN, Infinity]) {
      const e = ringError(() => it.seek(IoqSeek.Set, bad));
      expect(e.rule).toMatch(/seek position/);
      expect(it.pos).toBe(1); // unchanged
    }
    north.iterator(IoqIndex.Inuse).seek(IoqSeek.Tail).push();
    expect(it.seek(IoqSeek.Tail).pos).toBe(1);
    expect(it.seek(IoqSeek.Head).pos).toBe(0);
  });

  it('head, tail read from memory are validated against the private count', () => {
    const d = new IoqMockDriver({ count: 4 });
    const south = d.attachSouth();
    const it = south.iterator(IoqIndex.Inuse);
    for (const [field, v] of [
      ['head', 4],
      ['tail', 0xffffffff],
      ['head', 0x80000000],
    ] as const) {
      d.pokeIndex(IoqIndex.Inuse, field, v);
      const e = ringError(() => it.seek(field === 'head' ? IoqSeek.Head : IoqSeek.Tail));
      expect(e).toMatchObject({ ring: 'mock', value: v });
      expect(() => it.pop()).toThrow(RingError);
      d.pokeIndex(IoqIndex.Inuse, field, 0);
    }
  });
});

describe('IoqMockDriver with a south device', () => {
  it('push, device consumes and returns, reclaim: data, cookies, lengths and buffer space', () => {
    const d = new IoqMockDriver({ count: 4 });
    const south = d.attachSouth();
    let served = 0;
    const dev = south.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE);
    south.signal.handler = () => {
      for (dev.seek(IoqSeek.Head); dev.owned;) {
        const bytes = d.memory.view(dev.ptr, dev.len);
        bytes.reverse();
        dev.len = bytes.length - 1; // the device reports what it used
        dev.pop();
        served++;
      }
    };
    d.onSouthWake = () => south.signal.wakeup();
    const north = { completions: 0 };
    d.ring.signal.handler = () => north.completions++;
    const a = d.push({ data: Uint8Array.of(1, 2, 3) });
    const b = d.push({ data: Uint8Array.of(4, 5), cookie: 77 });
    expect(served).toBe(2);
    expect(north.completions).toBe(2);
    expect(d.southWakes).toBe(2);
    expect(d.allocator.inUse).toBeGreaterThan(0);
    const done = d.reclaim();
    expect(done.map((x) => [x.slot, x.cookie, x.len])).toEqual([
      [a.slot, a.cookie, 2],
      [b.slot, 77, 1],
    ]);
    expect([...d.bytesOf(done[0]!, 3)]).toEqual([3, 2, 1]);
    expect(d.allocator.inUse).toBe(0);
    expect(d.free).toBe(4);
    expect(d.reclaim()).toEqual([]);
  });

  it('fill() stops at count; a further push is refused by the ring and leaks nothing', () => {
    const d = new IoqMockDriver({ count: 3 });
    const south = d.attachSouth();
    expect(d.fill(16).length).toBe(3);
    expect(d.free).toBe(0);
    const used = d.allocator.inUse;
    expect(() => d.push({ len: 16 })).toThrow(RingError);
    expect(d.allocator.inUse).toBe(used);
    // south returns one: north still cannot push until it reclaims
    south.iterator(IoqIndex.Inuse).seek(IoqSeek.Head).pop();
    expect(() => d.push({ len: 16 })).toThrow(RingError);
    expect(d.reclaim().length).toBe(1);
    expect(d.push({ len: 16 }).slot).toBe(0);
  });

  it('pokes write the raw layout', () => {
    const d = new IoqMockDriver({ count: 2 });
    d.pokeDesc(1, 'ptr', 0xffff_ffff_ffff_ffffn);
    d.pokeDesc(1, 'sown', 1);
    expect(d.peekDesc(1, 'ptr')).toBe(0xffff_ffff_ffff_ffffn);
    expect(d.ring.sown(1)).toBe(true);
    d.pokeIndex(IoqIndex.Valid, 'full', 1);
    expect(d.ring.isFull(IoqIndex.Valid)).toBe(true);
    expect(d.peekIndex(IoqIndex.Valid, 'full')).toBe(1);
    d.pokeHeader('magic', 0);
    expect(() => d.attachSouth()).toThrow(RingError);
    expect(() => d.pokeDesc(2, 'len', 1)).toThrow(RangeError);
  });
});

// ---- model-based property ----

type Op = { kind: 'push' } | { kind: 'southPop' } | { kind: 'reclaim' } | { kind: 'forcePop' } | { kind: 'forcePush' };

/**
 * The model: north's valid index and the inuse index as counters over slot numbers, and per slot
 * who owns it. North pushes at the valid tail (valid.push, NOFLIPOWNER, then inuse.push, which
 * hands the slot to south); south pops at the inuse head while it owns the slot; north reclaims at
 * the valid head while it owns the slot and the valid index is not empty. "force" ops call
 * push/pop without those checks: the ring itself must refuse what the model forbids.
 */
describe('IOQ model-based property', () => {
  it('random north pushes / south pops / north reclaims keep head, tail, full and ownership consistent', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.constant({ kind: 'push' as const }), weight: 4 },
      { arbitrary: fc.constant({ kind: 'southPop' as const }), weight: 3 },
      { arbitrary: fc.constant({ kind: 'reclaim' as const }), weight: 3 },
      { arbitrary: fc.constant({ kind: 'forcePop' as const }), weight: 1 },
      { arbitrary: fc.constant({ kind: 'forcePush' as const }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 120 }), (count, ops) => {
        const memory = RegionMemory.create(RING, ioqByteLength(count));
        Ioq.format(memory, RING, count);
        let southWakes = 0;
        const north = Ioq.attach(memory, RING, Side.North, () => southWakes++);
        const south = Ioq.attach(memory, RING, Side.South, () => {});
        const nValid = north.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER);
        const nInuse = north.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE);
        const sInuse = south.iterator(IoqIndex.Inuse);
        const nReclaim = north.iterator(IoqIndex.Valid, IOQ_ITER_NOFLIPOWNER);
        const m = { vHead: 0, vTail: 0, vLen: 0, uHead: 0, uTail: 0, uLen: 0, sown: new Array<boolean>(count).fill(false), pushes: 0 };
        const inc = (x: number) => (x + 1) % count;
        const check = () => {
          expect(snapshot(south)).toEqual({
            valid: { head: m.vHead, tail: m.vTail, full: m.vLen === count },
            inuse: { head: m.uHead, tail: m.uTail, full: m.uLen === count },
            sown: m.sown,
          });
        };
        for (const o of ops) {
          const before = snapshot(south);
          switch (o.kind) {
            case 'push':
            case 'forcePush': {
              const allowed = m.vLen < count;
              if (o.kind === 'push' && !allowed) break;
              nValid.seek(IoqSeek.Tail);
              nInuse.seek(IoqSeek.Tail);
              expect(nValid.pos).toBe(nInuse.pos);
              if (!allowed) {
                expect(() => nValid.push()).toThrow(RingError);
                expect(snapshot(south)).toEqual(before);
                break;
              }
              nValid.cookie = m.pushes;
              nValid.push();
              nInuse.push();
              m.sown[m.vTail] = true;
              m.vTail = inc(m.vTail);
              m.vLen++;
              m.uTail = inc(m.uTail);
              m.uLen++;
              m.pushes++;
              break;
            }
            case 'southPop': {
              sInuse.seek(IoqSeek.Head);
              expect(sInuse.owned).toBe(m.uLen > 0);
              if (!sInuse.owned) {
                expect(() => sInuse.pop()).toThrow(RingError);
                expect(snapshot(south)).toEqual(before);
                break;
              }
              sInuse.pop();
              m.sown[m.uHead] = false;
              m.uHead = inc(m.uHead);
              m.uLen--;
              break;
            }
            case 'reclaim':
            case 'forcePop': {
              nReclaim.seek(IoqSeek.Head);
              const empty = m.vLen === 0;
              const allowed = !empty && !m.sown[m.vHead];
              const looksOk = nReclaim.owned && (nReclaim.pos !== north.readIndex(IoqIndex.Valid, IOQ_IDX_TAIL) || north.isFull(IoqIndex.Valid));
              expect(looksOk).toBe(allowed);
              if (o.kind === 'reclaim' && !looksOk) break;
              if (!allowed) {
                expect(() => nReclaim.pop()).toThrow(RingError);
                expect(snapshot(south)).toEqual(before);
                break;
              }
              expect(nReclaim.cookie).toBe(m.pushes - m.vLen);
              nReclaim.pop();
              m.vHead = inc(m.vHead);
              m.vLen--;
              break;
            }
          }
          check();
          // the valid index always covers the inuse one: what south holds, north has not reclaimed
          expect(m.uLen).toBeLessThanOrEqual(m.vLen);
        }
        expect(north.signal.counters.injected + north.signal.counters.suppressed).toBe(m.pushes);
        expect(southWakes).toBe(north.signal.counters.injected);
      }),
      { numRuns: 500 },
    );
  });
});

// ---- hostile rings ----

function onlyRingOrMemoryErrors(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof RingError || e instanceof MemoryAccessError)) throw e;
    expect(VbusError.is(e)).toBe(true);
  }
}

type HostileOp =
  | { kind: 'seek'; where: IoqSeek; pos: number; index: IoqIndex }
  | { kind: 'push' | 'pop' | 'read' | 'enable' | 'disable' | 'wakeup'; index: IoqIndex }
  | { kind: 'poke'; offset: number; bytes: Uint8Array };

const hostileOp = (ringBytes: number): fc.Arbitrary<HostileOp> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('seek' as const),
      where: fc.constantFrom(IoqSeek.Head, IoqSeek.Tail, IoqSeek.Next, IoqSeek.Set),
      pos: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.double()),
      index: fc.constantFrom(IoqIndex.Valid, IoqIndex.Inuse),
    }),
    fc.record({
      kind: fc.constantFrom('push' as const, 'pop' as const, 'read' as const, 'enable' as const, 'disable' as const, 'wakeup' as const),
      index: fc.constantFrom(IoqIndex.Valid, IoqIndex.Inuse),
    }),
    fc.record({
      kind: fc.constant('poke' as const),
      offset: fc.integer({ min: 0, max: ringBytes - 1 }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  );

function runHostile(memory: RegionMemory, count: number, side: Side, ops: HostileOp[]): void {
  let q: Ioq | undefined;
  onlyRingOrMemoryErrors(() => {
    q = Ioq.attach(memory, RING, side, () => {});
  });
  if (!q) return;
  expect(q.count).toBeLessThanOrEqual(count);
  const ring = q;
  ring.signal.handler = () => {};
  const its = [ring.iterator(IoqIndex.Valid, IOQ_ITER_AUTOUPDATE), ring.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE | IOQ_ITER_NOFLIPOWNER)];
  for (const o of ops) {
    const it = o.kind === 'poke' ? its[0]! : its[o.index]!;
    onlyRingOrMemoryErrors(() => {
      switch (o.kind) {
        case 'seek':
          it.seek(o.where, o.pos);
          break;
        case 'push':
          it.push();
          break;
        case 'pop':
          it.pop();
          break;
        case 'read':
          void [it.cookie, it.ptr, it.len, it.valid, it.owned, it.sown, ring.isFull(it.index)];
          break;
        case 'enable':
          ring.notifyEnable();
          break;
        case 'disable':
          ring.notifyDisable();
          break;
        case 'wakeup':
          ring.signal.wakeup();
          break;
        case 'poke':
          memory.write(RING + Math.min(o.offset, ioqByteLength(count) - o.bytes.length), o.bytes.subarray(0, ioqByteLength(count)));
          break;
      }
    });
    expect(it.pos).toBeGreaterThanOrEqual(0);
    expect(it.pos).toBeLessThan(ring.count);
  }
}

describe('IOQ against hostile ring contents', () => {
  it('random bytes over header and descriptors: attach/seek/push/pop raise only RingError or MemoryAccessError', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.constantFrom(Side.North, Side.South),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: ioqByteLength(6), maxLength: ioqByteLength(6) }),
        fc.array(hostileOp(ioqByteLength(1)), { maxLength: 40 }),
        (count, keepHeader, side, headerCount, noise, ops) => {
          // a region exactly the ring's size: any access past it throws instead of reading stray bytes
          const memory = RegionMemory.create(RING, ioqByteLength(count));
          Ioq.format(memory, RING, count);
          const b = memory.view(RING, ioqByteLength(count));
          if (keepHeader) {
            // keep magic, version and the signal's magic/version so attach gets through; the rest is noise
            b.set(noise.subarray(16, ioqByteLength(count)), 16);
            b.set(noise.subarray(0, 4), IOQ_OFF_COUNT); // count: any u32, including ones past the region
            if (headerCount % 2 === 0) b.set([count, 0, 0, 0], IOQ_OFF_COUNT);
          } else {
            b.set(noise.subarray(0, ioqByteLength(count)));
          }
          runHostile(memory, count, side, ops);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a well-formed ring turned hostile mid-run: pokes of indices, full, sown and lengths give only RingErrors', () => {
    const field = fc.constantFrom('head' as const, 'tail' as const, 'full' as const);
    const poke = fc.oneof(
      fc.record({
        kind: fc.constant('index' as const),
        index: fc.constantFrom(IoqIndex.Valid, IoqIndex.Inuse),
        field,
        value: fc.oneof(fc.nat(8), fc.integer({ min: 0, max: 0xffffffff })),
      }),
      fc.record({
        kind: fc.constant('desc' as const),
        slot: fc.nat(3),
        field: fc.constantFrom('sown' as const, 'valid' as const, 'len' as const, 'ptr' as const),
        value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      }),
      fc.record({
        kind: fc.constant('signal' as const),
        side: fc.constantFrom(Side.North, Side.South),
        field: fc.constantFrom('enabled' as const, 'pending' as const, 'dirty' as const),
        value: fc.integer({ min: 0, max: 0xffffffff }),
      }),
      fc.record({ kind: fc.constant('step' as const) }),
    );
    fc.assert(
      fc.property(fc.array(poke, { maxLength: 30 }), (pokes) => {
        const d = new IoqMockDriver({ count: 4 });
        const south = d.attachSouth();
        const dev = south.iterator(IoqIndex.Inuse, IOQ_ITER_AUTOUPDATE);
        // a device's bounded walk: copy ptr/len out once, check them against guest memory, pop
        const walk = () => {
          dev.seek(IoqSeek.Head);
          for (let n = 0; n < south.count && dev.owned; n++) {
            const ptr = dev.ptr;
            const len = dev.len;
            if (d.memory.contains(ptr, len)) d.memory.view(ptr, len).fill(0xee);
            else expect(() => d.memory.view(ptr, len)).toThrow(MemoryAccessError);
            dev.pop();
          }
        };
        south.signal.handler = () => onlyRingOrMemoryErrors(walk);
        d.onSouthWake = () => south.signal.wakeup();
        onlyRingOrMemoryErrors(() => void d.push({ len: 8 }));
        for (const p of pokes) {
          if (p.kind === 'index') d.pokeIndex(p.index, p.field, p.value);
          else if (p.kind === 'desc') d.pokeDesc(p.slot, p.field, p.value);
          else if (p.kind === 'signal') d.pokeSignal(p.side, p.field, p.value);
          onlyRingOrMemoryErrors(() => {
            if (p.kind === 'step') d.push({ len: 8 });
            walk();
            d.reclaim();
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
