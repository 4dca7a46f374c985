import { expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, IoqDriverQueue, RegionMemory } from '@vbus/core';
import { counterDriver, counterModule } from '../examples/custom-device.js';

it('the README custom device counts frames with one kick for a batch', async () => {
  const { vbus } = createVbus({ modules: [counterModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('frame-counter', 'c0', { every: 4 });
  const mem = RegionMemory.create(0x1000, 1 << 16);
  const alloc = new GuestAllocator(0x1000, 1 << 16);
  const conn = new InProcessConnector(bus, mem).open('c0');
  const q = new IoqDriverQueue(mem, alloc.alloc(2048, 64), 16, 'q0');
  q.signal = await conn.shm(0, q.ioq.address, q.byteLength, q.signalAddress); // typed ShmSignal: a signal address was given
  const buf = alloc.alloc(64);
  for (let i = 0; i < 10; i++) q.post(buf, 64, i);
  q.kick();
  await new Promise((r) => setImmediate(r));
  expect(bus.introspect().devices[0]!.counters).toEqual({ frames: 10 });
  expect(q.signal.counters.injected).toBe(1);
  expect(q.reclaim(() => {})).toBe(10);
});

it('the README driver half: openDriverRing, ten posts with more, one kick, every buffer given back', async () => {
  const { vbus } = createVbus({ modules: [counterModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('frame-counter', 'c0', { every: 4 });
  const mem = RegionMemory.create(0x1000, 1 << 16);
  const conn = new InProcessConnector(bus, mem).open('c0');
  expect(await counterDriver(conn, new GuestAllocator(0x1000, 1 << 16))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(bus.introspect().devices[0]!.counters).toEqual({ frames: 10 });
});
