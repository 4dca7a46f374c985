import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingError } from '@vbus/core';
import { MockDriver, type RingKind } from '../../testing/index.js';
import { VIRTQ_USED_RING } from './layout.js';
import type { VirtqueueDevice, VirtqueueDriver } from './virtqueue.js';

/** `takeUsed`: every used buffer's token at once, as `getUsed` would hand them out one by one. */

type Shape = { kind: RingKind; inOrder: boolean; eventIdx: boolean };
const SHAPES: Shape[] = [
  { kind: 'split', inOrder: false, eventIdx: false },
  { kind: 'split', inOrder: true, eventIdx: false },
  { kind: 'split', inOrder: true, eventIdx: true },
  { kind: 'packed', inOrder: false, eventIdx: true },
];

/** One ring and its device, with a fixed 16-byte segment per buffer (no allocation per buffer). */
function ring(shape: Shape, size = 16) {
  const m = new MockDriver<number>({ ...shape, size });
  const dev = m.device();
  const readable = [{ addr: m.alloc(16), len: 16 }];
  const writable = [{ addr: m.alloc(16), len: 16 }];
  // plain numbers as tokens (the mock's own helpers, which wrap them, are not used here)
  const drv = m.driver as unknown as VirtqueueDriver<number>;
  return { m, drv, dev, readable, writable };
}

/** The device uses chains, one per entry of `short` (true: shorter than its writable part, which ends an IN_ORDER batch), then publishes. */
function use(dev: VirtqueueDevice, short: readonly boolean[]): void {
  for (const s of short) {
    const c = dev.popChain();
    if (c === null) break;
    dev.addUsed(c.id, c.writableBytes > 0 && s ? 3 : c.writableBytes, true);
  }
  dev.needsNotification();
}

/** One round of the twin program: buffers added (rx-shaped or tx-shaped, with or without `more`), then chains used. */
const round = fc.record({
  adds: fc.array(fc.record({ rx: fc.boolean(), more: fc.boolean() }), { maxLength: 16 }),
  uses: fc.array(fc.boolean(), { maxLength: 16 }),
});

describe('takeUsed', () => {
  for (const shape of SHAPES) {
    const label = `${shape.kind}${shape.inOrder ? ', IN_ORDER' : ''}${shape.eventIdx ? ', EVENT_IDX' : ''}`;
    it(`${label}: the same tokens in the same order as getUsed, with the same free and in-flight counts`, () => {
      // two identical rings driven by the same program: one drained with getUsed, one with takeUsed
      fc.assert(
        fc.property(fc.array(round, { minLength: 1, maxLength: 60 }), (rounds) => {
          const a = ring(shape);
          const b = ring(shape);
          let token = 0;
          const viaGet: number[] = [];
          const viaTake: number[] = [];
          const sink = { push: (t: number) => viaTake.push(t) };
          for (const r of rounds) {
            for (const { rx, more } of r.adds) {
              const okA = a.drv.add(rx ? [] : a.readable, rx ? a.writable : [], token, { more });
              const okB = b.drv.add(rx ? [] : b.readable, rx ? b.writable : [], token, { more });
              expect(okB).toBe(okA);
              if (okA) token++;
            }
            a.drv.needsKick();
            b.drv.needsKick();
            use(a.dev, r.uses);
            use(b.dev, r.uses);
            let u;
            let got = 0;
            while ((u = a.drv.getUsed()) !== null) {
              viaGet.push(u.token);
              got++;
            }
            expect(b.drv.takeUsed(sink)).toBe(got);
            expect(viaTake).toEqual(viaGet);
            expect(b.drv.numFree).toBe(a.drv.numFree);
            expect(b.drv.inFlight).toBe(a.drv.inFlight);
            expect(b.drv.takeUsed(sink)).toBe(0);
          }
        }),
        { numRuns: 200 },
      );
    });
  }

  it('EVENT_IDX with interrupts on: used_event ends at the last used index, so the device interrupts for the next buffer; off, it stays parked', () => {
    const { m, drv, dev, readable } = ring({ kind: 'split', inOrder: true, eventIdx: true }, 8);
    const taken: number[] = [];
    const sink = { push: (t: number) => taken.push(t) };
    drv.enableInterrupts();
    for (let t = 0; t < 5; t++) drv.add(readable, [], t, { more: true });
    drv.needsKick();
    use(dev, [false, false, false, false, false]);
    expect(drv.takeUsed(sink)).toBe(5);
    expect(taken).toEqual([0, 1, 2, 3, 4]);
    expect(m.usedEvent()).toBe(5);
    drv.add(readable, [], 5);
    dev.addUsed(dev.popChain()!.id, 0);
    expect(dev.needsNotification()).toBe(true);

    drv.disableInterrupts();
    expect(drv.takeUsed(sink)).toBe(1);
    const parked = m.usedEvent();
    expect(parked).toBe((5 + 0x8000) & 0xffff); // parked by disableInterrupts, not moved by one buffer
    drv.add(readable, [], 6);
    dev.addUsed(dev.popChain()!.id, 0);
    expect(dev.needsNotification()).toBe(false);
  });

  it('EVENT_IDX with interrupts off: a stream of 200,000 buffers never asks for an interrupt (used_event is parked again before the device reaches it)', () => {
    const size = 64;
    const { drv, dev, readable } = ring({ kind: 'split', inOrder: true, eventIdx: true }, size);
    const sink = { push: () => {} };
    drv.disableInterrupts();
    let interrupts = 0;
    let taken = 0;
    for (let t = 0; t < 200_000;) {
      // a full ring each round: the device's used index runs a whole queue ahead of the driver's
      for (let k = 0; k < size; k++) drv.add(readable, [], t++, { more: true });
      drv.needsKick();
      for (let c = dev.popChain(); c !== null; c = dev.popChain()) {
        dev.addUsed(c.id, 0, true);
        if (dev.needsNotification()) interrupts++;
      }
      taken += drv.takeUsed(sink);
    }
    expect(taken).toBeGreaterThanOrEqual(200_000);
    expect(interrupts).toBe(0);
  });

  it('a used element naming a buffer that is not in flight fails the ring, as getUsed does', () => {
    const { m, drv, dev, readable } = ring({ kind: 'split', inOrder: true, eventIdx: false }, 8);
    for (let t = 0; t < 3; t++) drv.add(readable, [], t);
    dev.popChain();
    m.pokeU32(m.split.usedRing + VIRTQ_USED_RING, 6); // never added
    m.pokeU16(m.split.usedRing + 2, 1);
    const sink = { push: () => {} };
    expect(() => drv.takeUsed(sink)).toThrow(/used.ring\[0\].id 6 is not one of the next 1 buffers in flight/);
    expect(() => drv.takeUsed(sink)).toThrow(RingError);
    expect(drv.failed).toBe(true);

    const plain = ring({ kind: 'split', inOrder: false, eventIdx: false }, 8);
    plain.drv.add(plain.readable, [], 0);
    plain.m.pokeU32(plain.m.split.usedRing + VIRTQ_USED_RING, 5);
    plain.m.pokeU16(plain.m.split.usedRing + 2, 1);
    expect(() => plain.drv.takeUsed(sink)).toThrow(/used.ring\[0\].id 5 is not a head in flight/);
  });
});
