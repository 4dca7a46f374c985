import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingError } from '@vbus/core';
import { MockDriver, type RingKind } from '../../testing/index.js';
import { DescriptorChain } from './descriptor-chain.js';

type Op =
  | { t: 'add'; r: number[]; w: number[]; indirect: boolean; more: boolean }
  | { t: 'pop' }
  | { t: 'complete'; pick: number; fill: number; more: boolean }
  | { t: 'get' }
  | { t: 'notify' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('add' as const),
      r: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
      w: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
      indirect: fc.boolean(),
      // more: published with a batch (by a later add, needsKick or the batch limit)
      more: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ t: 'pop' as const }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('complete' as const), pick: fc.nat(), fill: fc.nat({ max: 40 }), more: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ t: 'get' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'notify' as const }) },
);

const configArb = fc.record({
  kind: fc.constantFrom<RingKind>('split', 'packed'),
  sizeExp: fc.integer({ min: 0, max: 6 }),
  packedSize: fc.integer({ min: 1, max: 40 }),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
  startIndex: fc.integer({ min: 0xff00, max: 0xffff }),
  // split only: the device uses buffers in order and batches used elements
  inOrder: fc.boolean(),
});

function payload(token: number, seg: number, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (token * 7 + seg * 31 + i) & 0xff);
}

describe('driver and device against each other (fast-check)', () => {
  it('every buffer is accounted for exactly once, with its bytes intact', () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { maxLength: 150 }), (cfg, ops) => {
        const size = cfg.kind === 'split' ? 1 << cfg.sizeExp : cfg.packedSize;
        const inOrder = cfg.kind === 'split' && cfg.inOrder;
        const m = new MockDriver({ kind: cfg.kind, size, eventIdx: cfg.eventIdx, indirect: cfg.indirect, startIndex: cfg.kind === 'split' ? cfg.startIndex : 0, inOrder });
        const dev = m.device();
        const added = new Map<number, { r: number[]; w: number[] }>();
        const returned = new Set<number>();
        // the length the device gave each buffer in flight, by id (unique while in flight)
        const usedLen = new Map<number, number>();
        const held: DescriptorChain[] = [];
        const spare: DescriptorChain[] = [];
        let next = 0;
        const complete = (c: DescriptorChain, fill: number, more = false) => {
          const w = c.writer();
          const n = w.write(new Uint8Array(fill).fill(0xa5));
          expect(n).toBe(Math.min(fill, c.writableBytes));
          usedLen.set(c.id, n);
          dev.addUsed(c.id, n, more);
        };
        const check = (u: { token: number; len: number; id: number; written: Uint8Array }) => {
          expect(added.has(u.token)).toBe(true);
          // exact, also for the buffers an IN_ORDER batch skipped
          expect(u.len).toBe(usedLen.get(u.id));
          usedLen.delete(u.id);
          expect(returned.has(u.token)).toBe(false);
          returned.add(u.token);
          expect(u.written.every((b) => b === 0xa5)).toBe(true);
        };
        for (const op of ops) {
          switch (op.t) {
            case 'add': {
              if (op.r.length + op.w.length === 0) break;
              const indirect = op.indirect && cfg.indirect;
              const token = next++;
              const ok = m.addBuffer(
                op.r.map((len, s) => payload(token, s, len)),
                op.w,
                token,
                { indirect, more: op.more },
              );
              const slots = indirect ? 1 : op.r.length + op.w.length;
              if (ok) added.set(token, { r: op.r, w: op.w });
              else expect(slots > m.driver.numFree || m.driver.inFlight === size).toBe(true);
              break;
            }
            case 'pop': {
              const c = dev.popChain(spare.pop() ?? new DescriptorChain(2));
              if (c === null) break;
              // the device sees exactly what the driver added
              const r = c.reader();
              const all = r.readAll();
              expect(all.length).toBe(c.readableBytes);
              held.push(c);
              break;
            }
            case 'complete': {
              if (held.length === 0) break;
              // in order: the oldest popped chain; otherwise any
              const c = held.splice(inOrder ? 0 : op.pick % held.length, 1)[0]!;
              complete(c, op.fill, op.more);
              spare.push(c);
              break;
            }
            case 'get': {
              const u = m.getUsed();
              if (u) check(u);
              break;
            }
            case 'notify':
              dev.needsNotification();
              m.driver.needsKick();
              break;
          }
        }
        // drain: publish what was batched on both sides, then take everything
        m.driver.needsKick();
        for (const c of held) complete(c, 1, true);
        for (let c = dev.popChain(); c !== null; c = dev.popChain()) complete(c, 3, true);
        dev.needsNotification();
        for (let u = m.getUsed(); u !== null; u = m.getUsed()) check(u);
        expect(returned.size).toBe(added.size);
        expect(m.driver.inFlight).toBe(0);
        expect(m.driver.numFree).toBe(size);
        expect(dev.failed).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('chain contents match what the driver wrote (direct and indirect)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<RingKind>('split', 'packed'),
        fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 64 }), { maxLength: 6 }),
        fc.boolean(),
        (kind, r, w, indirect) => {
          const m = new MockDriver({ kind, size: 16, indirect: true });
          const dev = m.device();
          expect(
            m.addBuffer(
              r.map((len, s) => payload(1, s, len)),
              w,
              1,
              { indirect },
            ),
          ).toBe(true);
          const c = dev.popChain()!;
          expect(c.length).toBe(r.length + w.length);
          expect(c.ringSlots).toBe(indirect ? 1 : r.length + w.length);
          const expected = new Uint8Array(r.reduce((a, b) => a + b, 0));
          let at = 0;
          r.forEach((len, s) => {
            expected.set(payload(1, s, len), at);
            at += len;
          });
          expect(c.reader().readAll()).toEqual(expected);
          expect(c.writableBytes).toBe(w.reduce((a, b) => a + b, 0));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('random corruption of ring bytes (fast-check)', () => {
  it('gives RingError or valid progress: never another exception, never out of bounds, never a hang', () => {
    let ringErrors = 0;
    let chains = 0;
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.record({ area: fc.nat(), offset: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (cfg, prefill, pokes, bigValues) => {
          const size = cfg.kind === 'split' ? 1 << cfg.sizeExp : cfg.packedSize;
          const m = new MockDriver({ kind: cfg.kind, size, eventIdx: cfg.eventIdx, indirect: cfg.indirect, memorySize: 1 << 18 });
          const dev = m.device();
          for (let i = 0; i < prefill; i++) m.addBuffer([payload(i, 0, 3)], i % 3 ? [4] : [], i, { indirect: cfg.indirect && i % 2 === 0 });
          const areas = m.ringAreas();
          for (const p of pokes) {
            const [addr, len] = areas[p.area % areas.length]!;
            const off = p.offset % len;
            m.memory.view(addr + off, 1)[0] = bigValues && off % 16 >= 4 && off % 16 < 8 ? 0xff : p.value;
          }
          const regions = m.memory.regions();
          const inside = (a: number, l: number) => regions.some((r) => a >= r.address && a + l <= r.address + r.length);
          let steps = 0;
          try {
            for (let c = dev.popChain(); c !== null && steps < 4 * size + 10; c = dev.popChain()) {
              steps++;
              chains++;
              expect(c.length).toBeLessThanOrEqual(size + 32768);
              for (let i = 0; i < c.length; i++) if (c.len(i) > 0) expect(inside(c.addr(i), c.len(i))).toBe(true);
              c.reader().readAll();
              const w = c.writer();
              w.write(new Uint8Array(Math.min(w.remaining, 64)));
              dev.addUsed(c.id, w.written);
              dev.needsNotification();
              dev.enableNotification();
            }
          } catch (e) {
            if (!(e instanceof RingError)) throw e;
            ringErrors++;
            expect(dev.failed).toBe(true);
          }
          // the driver side meets the corrupted ring too: RingError or progress only
          try {
            for (let k = 0; k < 4 * size + 10 && m.driver.getUsed() !== null; k++);
            m.driver.needsKick();
          } catch (e) {
            if (!(e instanceof RingError)) throw e;
          }
        },
      ),
      { numRuns: 500 },
    );
    // both outcomes really happen
    expect(ringErrors).toBeGreaterThan(10);
    expect(chains).toBeGreaterThan(10);
  });
});
