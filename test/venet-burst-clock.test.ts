// venet's burst threshold reads the bus's clock: under a VirtualTimeScheduler the gap between two
// frames is their gap in virtual time, whatever the host machine's real time did between them.
import { expect, it } from 'vitest';
import { createVbus, GuestAllocator, RegionMemory, SimulatedConnector, VirtualTimeScheduler, runUntilSettled } from '@vbus/core';
import { venetModule, VenetDriver, type VenetDevice } from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';

function frame(n: number): Uint8Array {
  const f = new Uint8Array(64);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, n]);
  return f;
}

it('frames 100 µs apart in virtual time go inline; frames closer than the 50 µs threshold go to the deferred backlog', async () => {
  const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
  const { vbus } = createVbus({ modules: [venetModule], scheduler: vts });
  const bus = vbus.createBus('b');
  const backend = new CaptureBackend();
  bus.createDevice('virtual-ethernet', 'v0', { backend, mac: '52:54:00:00:00:01', burstThresholdUs: 50 });
  const memory = RegionMemory.create(0x10000, 8 << 20);
  const conn = new SimulatedConnector(bus, memory, vts, 'g').open('v0');
  const d = await runUntilSettled(vts, VenetDriver.open(conn, new GuestAllocator(0x10000, 8 << 20)));
  let got = 0;
  d.onFrame = () => got++;
  const placed = () => (bus.device<VenetDevice>('v0').counters().rx as Record<string, number>).frames!;
  vts.runFor(1);
  expect(backend.inject(frame(1))).toBe(true);
  expect(placed()).toBe(1); // inline: in the ring before inject returned
  // next to no real time passes, but 100 µs of virtual time do
  vts.runFor(0.1);
  expect(backend.inject(frame(2))).toBe(true);
  expect(placed()).toBe(2); // 100 µs after the last: still inline
  // real time passes here (the host is slow), only 10 µs of virtual time
  await new Promise((r) => setTimeout(r, 5));
  vts.runFor(0.01);
  expect(backend.inject(frame(3))).toBe(true);
  expect(backend.inject(frame(4))).toBe(true);
  expect(placed()).toBe(2); // 10 µs, then 0 µs after the last: queued for the bottom half
  vts.runFor(0.01);
  expect(placed()).toBe(4);
  for (let i = 0; i < 1000 && got < 4; i++) {
    vts.step();
    await Promise.resolve();
  }
  expect(got).toBe(4);
});
