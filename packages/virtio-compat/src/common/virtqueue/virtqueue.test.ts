import { describe, expect, it } from 'vitest';
import { ConfigError, RegionMemory } from '@vbus/core';
import { MockDriver, type RingKind } from '../../testing/index.js';
import { DescriptorChain } from './descriptor-chain.js';
import { SplitQueueDevice } from './split-queue-device.js';
import { SplitQueueDriver } from './split-queue-driver.js';
import { PackedQueueDevice } from './packed-queue-device.js';
import { PackedQueueDriver } from './packed-queue-driver.js';
import { AVAIL_PUBLISH_BATCH, USED_PUBLISH_BATCH, type VirtqueueDevice } from './virtqueue.js';

/** The test device: copies the readable bytes, reversed, into the writable part. */
function serve(dev: VirtqueueDevice, max = Infinity): number {
  let n = 0;
  for (let c = dev.popChain(); c !== null && n < max; c = n + 1 < max ? dev.popChain() : null) {
    const data = c.reader().readAll();
    data.reverse();
    const w = c.writer();
    w.write(data);
    dev.addUsed(c.id, w.written);
    n++;
  }
  return n;
}

const bytes = (...v: number[]) => Uint8Array.from(v);

describe.each<RingKind>(['split', 'packed'])('%s virtqueue', (kind) => {
  it('round-trips buffers: readable copied out, writable filled, tokens back once', () => {
    const m = new MockDriver<string>({ kind, size: 8 });
    const dev = m.device();
    expect(dev.popChain()).toBeNull();
    expect(m.addBuffer([bytes(1, 2, 3), bytes(4, 5)], [2, 8], 'a')).toBe(true);
    expect(m.addBuffer([bytes(9)], [1], 'b')).toBe(true);
    expect(m.driver.numFree).toBe(8 - 4 - 2);
    expect(dev.hasAvailable()).toBe(true);
    const c = dev.popChain()!;
    expect(c.length).toBe(4);
    expect(c.readableCount).toBe(2);
    expect(c.readableBytes).toBe(5);
    expect(c.writableBytes).toBe(10);
    expect([c.isWritable(0), c.isWritable(1), c.isWritable(2), c.isWritable(3)]).toEqual([false, false, true, true]);
    const r = c.reader();
    const into = new Uint8Array(4);
    expect(r.read(into)).toBe(4);
    expect([...into]).toEqual([1, 2, 3, 4]);
    expect(r.remaining).toBe(1);
    expect(r.read(into)).toBe(1);
    expect(r.read(into)).toBe(0);
    const w = c.writer();
    expect(w.write(bytes(10, 11, 12))).toBe(3);
    expect(w.remaining).toBe(7);
    dev.addUsed(c.id, w.written);
    expect(serve(dev)).toBe(1);
    expect(dev.needsNotification()).toBe(true);
    const u1 = m.getUsed()!;
    expect(u1.token).toBe('a');
    expect(u1.len).toBe(3);
    expect([...u1.written]).toEqual([10, 11, 12]);
    const u2 = m.getUsed()!;
    expect(u2.token).toBe('b');
    expect([...u2.written]).toEqual([9]);
    expect(m.getUsed()).toBeNull();
    expect(m.driver.numFree).toBe(8);
    expect(m.driver.inFlight).toBe(0);
  });

  it('writer stops at the end of the writable part; reader never reads writable bytes', () => {
    const m = new MockDriver({ kind, size: 4 });
    const dev = m.device();
    m.addBuffer([bytes(1)], [2, 1], 0);
    const c = dev.popChain()!;
    expect(c.reader().readAll()).toEqual(bytes(1));
    const w = c.writer();
    expect(w.write(bytes(7, 7, 7, 7, 7))).toBe(3);
    expect(w.write(bytes(1))).toBe(0);
    dev.addUsed(c.id, w.written);
    expect(m.getUsed()!.written).toEqual(bytes(7, 7, 7));
  });

  it('carries indirect tables as one ring slot and flattens them in the chain', () => {
    const m = new MockDriver({ kind, size: 2, indirect: true });
    const dev = m.device();
    expect(m.addBuffer([bytes(1), bytes(2), bytes(3)], [1, 1, 1, 1], 0, { indirect: true })).toBe(true);
    expect(m.driver.numFree).toBe(1);
    expect(m.addBuffer([bytes(5)], [1], 1, { indirect: true })).toBe(true);
    expect(m.addBuffer([bytes(6)], [], 2, { indirect: true })).toBe(false);
    const c = dev.popChain()!;
    expect(c.indirect).toBe(true);
    expect(c.length).toBe(7);
    expect(c.ringSlots).toBe(1);
    expect(c.reader().readAll()).toEqual(bytes(1, 2, 3));
    const w = c.writer();
    w.write(bytes(9, 8, 7, 6));
    dev.addUsed(c.id, 4);
    expect(serve(dev)).toBe(1);
    expect(m.getUsed()!.written).toEqual(bytes(9, 8, 7, 6));
    expect(m.getUsed()!.written).toEqual(bytes(5));
    expect(m.driver.numFree).toBe(2);
  });

  it('refuses a full ring without changing anything, and a chain longer than the ring', () => {
    const m = new MockDriver({ kind, size: 4 });
    expect(m.addBuffer([bytes(1), bytes(2), bytes(3)], [], 0)).toBe(true);
    expect(m.addBuffer([bytes(1), bytes(2)], [], 1)).toBe(false);
    expect(m.driver.numFree).toBe(1);
    expect(m.driver.inFlight).toBe(1);
    expect(() => m.driver.add([], [], 0 as never)).toThrow(ConfigError);
    expect(() => m.driver.add([{ addr: 0x10000, len: 1 }], [], 0 as never, { indirect: true })).toThrow(ConfigError);
  });

  it('completes out of order and reuses descriptors, over many laps', () => {
    const m = new MockDriver({ kind, size: 8, indirect: true });
    const dev = m.device();
    const chains = [new DescriptorChain(), new DescriptorChain(), new DescriptorChain()];
    let next = 0;
    const seen: number[] = [];
    for (let lap = 0; lap < 300; lap++) {
      for (let k = 0; k < 3; k++) expect(m.addBuffer([bytes(k)], k === 1 ? [1, 1] : [1], next++, { indirect: k === 2 })).toBe(true);
      const got = chains.map((c) => dev.popChain(c)!);
      expect(got.map((c) => c.readableBytes)).toEqual([1, 1, 1]);
      for (const c of [got[2]!, got[0]!, got[1]!]) dev.addUsed(c.id, 0);
      for (let u = m.getUsed(); u !== null; u = m.getUsed()) seen.push(u.token);
    }
    expect(seen.length).toBe(900);
    expect(new Set(seen).size).toBe(900);
    expect(m.driver.numFree).toBe(8);
    expect(dev.failed).toBe(false);
  });

  it('handles sizes 1 and 32768', () => {
    for (const size of [1, 32768]) {
      const m = new MockDriver({ kind, size });
      const dev = m.device();
      for (let i = 0; i < 3; i++) {
        expect(m.addBuffer([bytes(i)], [], i)).toBe(true);
        expect(m.addBuffer([bytes(i)], [], i)).toBe(size > 1);
        expect(serve(dev)).toBe(size > 1 ? 2 : 1);
        expect(m.getUsed()!.token).toBe(i);
        if (size > 1) expect(m.getUsed()!.token).toBe(i);
      }
    }
  });

  describe('notification suppression', () => {
    for (const eventIdx of [false, true]) {
      it(`single buffer = 1 kick and 1 interrupt (EVENT_IDX ${eventIdx})`, () => {
        const m = new MockDriver({ kind, size: 16, eventIdx });
        const dev = m.device();
        m.addBuffer([bytes(1)], [], 0);
        expect(m.driver.needsKick()).toBe(true);
        expect(m.driver.needsKick()).toBe(false);
        serve(dev);
        expect(dev.needsNotification()).toBe(true);
        expect(dev.needsNotification()).toBe(false);
      });

      it(`burst of 100 before the device runs = 1 kick (EVENT_IDX ${eventIdx})`, () => {
        const m = new MockDriver({ kind, size: 128, eventIdx });
        const dev = m.device();
        let kicks = 0;
        if (eventIdx) {
          // with EVENT_IDX the driver may even check after every add
          for (let i = 0; i < 100; i++) {
            m.addBuffer([bytes(i)], [], i);
            if (m.driver.needsKick()) kicks++;
          }
        } else {
          for (let i = 0; i < 100; i++) m.addBuffer([bytes(i)], [], i);
          if (m.driver.needsKick()) kicks++;
        }
        expect(kicks).toBe(1);
        // the device wakes once, disables, drains, re-enables: nothing more
        dev.disableNotification();
        expect(serve(dev)).toBe(100);
        expect(dev.enableNotification()).toBe(false);
        expect(dev.needsNotification()).toBe(true);
      });

      it(`a disabled device gets no kicks; enable reports work that raced in (EVENT_IDX ${eventIdx})`, () => {
        const m = new MockDriver({ kind, size: 16, eventIdx });
        const dev = m.device();
        m.addBuffer([bytes(0)], [], 0);
        expect(m.driver.needsKick()).toBe(true);
        dev.disableNotification();
        serve(dev);
        m.addBuffer([bytes(1)], [], 1);
        expect(m.driver.needsKick()).toBe(false);
        expect(dev.enableNotification()).toBe(true); // must keep polling
        serve(dev);
        expect(dev.enableNotification()).toBe(false);
        m.addBuffer([bytes(2)], [], 2);
        expect(m.driver.needsKick()).toBe(true);
      });

      it(`disabled interrupts are not raised; enableInterrupts reports pending (EVENT_IDX ${eventIdx})`, () => {
        const m = new MockDriver({ kind, size: 16, eventIdx });
        const dev = m.device();
        m.driver.disableInterrupts();
        for (let i = 0; i < 5; i++) m.addBuffer([bytes(i)], [], i);
        serve(dev, 2);
        expect(dev.needsNotification()).toBe(false);
        expect(m.getUsed()).not.toBeNull();
        serve(dev, 1);
        expect(dev.needsNotification()).toBe(false);
        expect(m.driver.enableInterrupts()).toBe(true);
        while (m.getUsed() !== null);
        expect(m.driver.enableInterrupts()).toBe(false);
        serve(dev);
        expect(dev.needsNotification()).toBe(true);
      });

      it(`steady stream: kicks and interrupts far fewer than frames (EVENT_IDX ${eventIdx})`, () => {
        const m = new MockDriver({ kind, size: 256, eventIdx });
        const dev = m.device();
        let kicks = 0;
        let irqs = 0;
        let deviceScheduled = false;
        let driverScheduled = false;
        const frames = 10_000;
        let sent = 0;
        let done = 0;
        for (let tick = 0; done < frames; tick++) {
          // driver: 8 frames per tick; with EVENT_IDX it checks for a kick after every frame, with
          // the flags only after the batch (as Linux does with xmit_more): the flag cannot tell
          // whether the device has already been kicked
          for (let k = 0; k < 8 && sent < frames; k++) {
            if (!m.addBuffer([bytes(sent & 0xff)], [], sent)) break;
            sent++;
            if ((eventIdx || k === 7) && m.driver.needsKick()) {
              kicks++;
              deviceScheduled = true;
            }
          }
          // device: woken by a kick, polls until empty with notifications off (venet/NAPI style)
          if (deviceScheduled) {
            deviceScheduled = false;
            dev.disableNotification();
            for (;;) {
              serve(dev);
              if (dev.needsNotification()) {
                irqs++;
                driverScheduled = true;
              }
              if (!dev.enableNotification()) break;
            }
          }
          // driver completion handler: only when interrupted, every other tick
          if (driverScheduled && tick % 2 === 0) {
            driverScheduled = false;
            m.driver.disableInterrupts();
            for (;;) {
              while (m.getUsed() !== null) done++;
              if (!m.driver.enableInterrupts()) break;
            }
          }
        }
        expect(done).toBe(frames);
        expect(kicks).toBeLessThanOrEqual(frames / 8 + 1);
        expect(irqs).toBeLessThanOrEqual(frames / 8 + 1);
      });
    }

    it('EVENT_IDX: a polling device is not kicked while it keeps popping (with avail_event behind)', () => {
      const m = new MockDriver({ kind, size: 64, eventIdx: true });
      const dev = m.device();
      m.addBuffer([bytes(0)], [], 0);
      expect(m.driver.needsKick()).toBe(true);
      dev.disableNotification();
      let kicks = 0;
      for (let i = 1; i < 1000; i++) {
        m.addBuffer([bytes(i)], [], i);
        if (m.driver.needsKick()) kicks++;
        serve(dev);
        while (m.getUsed() !== null);
      }
      expect(kicks).toBe(0);
    });

    it('EVENT_IDX delayed interrupts: notified after about 3/4 of the outstanding buffers', () => {
      const m = new MockDriver({ kind, size: 64, eventIdx: true });
      const dev = m.device();
      for (let i = 0; i < 40; i++) m.addBuffer([bytes(i)], [], i);
      expect(m.driver.enableInterruptsDelayed()).toBe(false);
      let served = 0;
      let firstIrq = -1;
      while (served < 40) {
        serve(dev, 1);
        served++;
        if (dev.needsNotification() && firstIrq < 0) firstIrq = served;
      }
      expect(firstIrq).toBeGreaterThanOrEqual(30);
      expect(firstIrq).toBeLessThanOrEqual(31);
    });
  });
});

describe.each<RingKind>(['split', 'packed'])('%s virtqueue: batched publication', (kind) => {
  it('a buffer added with `more` reaches the device with its batch: at needsKick, or at the batch limit', () => {
    const m = new MockDriver<number>({ kind, size: 64 });
    const dev = m.device();
    expect(m.addBuffer([Uint8Array.of(1)], [], 0, { more: true })).toBe(true);
    expect(m.addBuffer([Uint8Array.of(2)], [], 1, { more: true })).toBe(true);
    expect(dev.hasAvailable()).toBe(false);
    expect(dev.popChain()).toBeNull();
    m.driver.needsKick();
    expect(dev.popChain()!.reader().readAll()).toEqual(Uint8Array.of(1));
    expect(dev.popChain()!.reader().readAll()).toEqual(Uint8Array.of(2));
    // a batch that is never closed is published every AVAIL_PUBLISH_BATCH buffers
    for (let i = 0; i < AVAIL_PUBLISH_BATCH; i++) m.addBuffer([Uint8Array.of(i)], [], 10 + i, { more: true });
    let seen = 0;
    while (dev.popChain() !== null) seen++;
    expect(seen).toBe(AVAIL_PUBLISH_BATCH);
    // an add without `more` publishes everything before it
    m.addBuffer([Uint8Array.of(7)], [], 100, { more: true });
    m.addBuffer([Uint8Array.of(8)], [], 101);
    expect(dev.popChain()).not.toBeNull();
    expect(dev.popChain()).not.toBeNull();
  });

  it('a used buffer returned with `more` reaches the driver with its batch: at needsNotification, or at the batch limit', () => {
    const m = new MockDriver<number>({ kind, size: 64 });
    const dev = m.device();
    for (let i = 0; i < 40; i++) m.addBuffer([], [4], i);
    const chains: DescriptorChain[] = [];
    for (let i = 0; i < 40; i++) chains.push(dev.popChain(new DescriptorChain())!);
    dev.addUsed(chains[0]!.id, 1, true);
    dev.addUsed(chains[1]!.id, 2, true);
    expect(m.driver.hasUsed()).toBe(false);
    expect(m.getUsed()).toBeNull();
    dev.needsNotification();
    expect([m.getUsed()!.token, m.getUsed()!.token, m.getUsed()]).toEqual([0, 1, null]);
    // USED_PUBLISH_BATCH left unpublished are published by the one that reaches the limit
    for (let i = 2; i < 2 + USED_PUBLISH_BATCH; i++) dev.addUsed(chains[i]!.id, 0, true);
    let got = 0;
    while (m.getUsed() !== null) got++;
    expect(got).toBe(USED_PUBLISH_BATCH);
    // without `more`, at once, with what was batched before it
    dev.addUsed(chains[34]!.id, 0, true);
    dev.addUsed(chains[35]!.id, 0);
    expect([m.getUsed()?.token, m.getUsed()?.token]).toEqual([34, 35]);
  });
});

describe('split virtqueue specifics', () => {
  it('wraps the free-running u16 indices (start near 0xffff)', () => {
    for (const eventIdx of [false, true]) {
      const m = new MockDriver({ kind: 'split', size: 4, eventIdx, startIndex: 0xfffd });
      const dev = m.device();
      let kicks = 0;
      for (let i = 0; i < 20; i++) {
        m.addBuffer([bytes(i)], [1], i);
        if (m.driver.needsKick()) kicks++;
        expect(serve(dev)).toBe(1);
        expect(dev.needsNotification()).toBe(true);
        expect(m.getUsed()!.token).toBe(i);
      }
      expect(kicks).toBe(20);
      expect(m.usedIdx()).toBe((0xfffd + 20) & 0xffff);
      expect((dev as SplitQueueDevice).state()).toEqual({ nextAvail: 17, nextUsed: 17 });
      if (eventIdx) {
        expect(m.availEvent()).toBe(17);
        expect(m.usedEvent()).toBe(17);
      }
    }
  });

  it('writes avail_event with EVENT_IDX and the NO_NOTIFY flag without', () => {
    const a = new MockDriver({ kind: 'split', size: 8, eventIdx: true });
    const da = a.device();
    a.addBuffer([bytes(1)], [], 0);
    serve(da);
    expect(a.availEvent()).toBe(1);
    expect(a.peekU16(a.split.usedRing)).toBe(0);
    const b = new MockDriver({ kind: 'split', size: 8 });
    const db = b.device();
    db.disableNotification();
    expect(b.peekU16(b.split.usedRing)).toBe(1);
    db.enableNotification();
    expect(b.peekU16(b.split.usedRing)).toBe(0);
  });

  it('refuses bad sizes and misplaced rings at set-up and writes nothing', () => {
    const memory = RegionMemory.create(0x1000, 0x10000);
    const before = memory.read(0x1000, 0x10000);
    const base = { name: 'q', memory, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 };
    for (const size of [0, 3, 65536, 1.5, -4]) {
      expect(() => new SplitQueueDevice({ ...base, size })).toThrow(ConfigError);
      expect(() => new SplitQueueDriver({ ...base, size })).toThrow(ConfigError);
    }
    expect(() => new SplitQueueDevice({ ...base, size: 8, descTable: 0x1008 })).toThrow(/aligned/);
    expect(() => new SplitQueueDevice({ ...base, size: 8, availRing: 0x1001 })).toThrow(/aligned/);
    expect(() => new SplitQueueDevice({ ...base, size: 8, usedRing: 0x1002 })).toThrow(/aligned/);
    expect(() => new SplitQueueDevice({ ...base, size: 8, usedRing: 0x10ff0 })).toThrow(/not inside guest memory/);
    expect(() => new SplitQueueDevice({ ...base, size: 8, nextAvail: 0x10000 })).toThrow(ConfigError);
    expect(() => new SplitQueueDriver({ ...base, size: 8, indirect: true })).toThrow(/allocator/);
    expect(memory.read(0x1000, 0x10000)).toEqual(before);
  });

  it('refuses addUsed of a head that is not one', () => {
    const m = new MockDriver({ kind: 'split', size: 8 });
    const dev = m.device();
    expect(() => dev.addUsed(8, 0)).toThrow(ConfigError);
    expect(() => dev.addUsed(0, -1)).toThrow(ConfigError);
    expect(dev.failed).toBe(false);
  });
});

describe('packed virtqueue specifics', () => {
  it('accepts sizes that are not powers of two and flips wrap counters', () => {
    for (const size of [3, 5, 7, 100]) {
      const m = new MockDriver({ kind: 'packed', size, eventIdx: true });
      const dev = m.device() as PackedQueueDevice;
      for (let i = 0; i < size * 5; i++) {
        expect(m.addBuffer([bytes(i & 0xff)], i % 2 ? [1] : [], i)).toBe(true);
        expect(serve(dev)).toBe(1);
        expect(m.getUsed()!.token).toBe(i);
      }
      const s = dev.state();
      const slots = size * 5 + Math.floor((size * 5) / 2);
      expect(s.nextAvail).toBe(slots % size);
      expect(s.availWrap).toBe((Math.floor(slots / size) + 1) % 2);
      expect(s.nextUsed).toBe(s.nextAvail);
    }
  });

  it('refuses bad sizes and misplaced areas and writes nothing', () => {
    const memory = RegionMemory.create(0x1000, 0x10000);
    const before = memory.read(0x1000, 0x10000);
    const base = { name: 'q', memory, descRing: 0x1000, driverEvent: 0x2000, deviceEvent: 0x2004 };
    for (const size of [0, 32769, 2.5]) {
      expect(() => new PackedQueueDevice({ ...base, size })).toThrow(ConfigError);
      expect(() => new PackedQueueDriver({ ...base, size })).toThrow(ConfigError);
    }
    expect(() => new PackedQueueDevice({ ...base, size: 8, driverEvent: 0x2002 })).toThrow(/aligned/);
    expect(() => new PackedQueueDevice({ ...base, size: 8, descRing: 0x10ff0 })).toThrow(/not inside/);
    expect(memory.read(0x1000, 0x10000)).toEqual(before);
  });

  it('writes the device event suppression area: ENABLE/DISABLE, DESC with off_wrap', () => {
    const m = new MockDriver({ kind: 'packed', size: 4 });
    const dev = m.device();
    const area = m.packed.deviceEvent;
    expect(m.peekU16(area + 2)).toBe(0);
    dev.disableNotification();
    expect(m.peekU16(area + 2)).toBe(1);
    const e = new MockDriver({ kind: 'packed', size: 4, eventIdx: true });
    const de = e.device();
    expect(e.peekU16(e.packed.deviceEvent + 2)).toBe(2);
    expect(e.peekU16(e.packed.deviceEvent)).toBe(0x8000);
    for (let i = 0; i < 5; i++) {
      e.addBuffer([bytes(i)], [], i);
      serve(de);
      e.getUsed();
    }
    // 5 slots on a ring of 4: position 1, wrap counter 0
    expect(e.peekU16(e.packed.deviceEvent)).toBe(1);
  });
});
