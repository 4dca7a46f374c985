import { describe, expect, it } from 'vitest';
import { runUntilSettled } from './run-until-settled.js';
import { VirtualTimeScheduler } from './virtual-time-scheduler.js';
import { createVbus } from '../bus/container.js';
import { SimulatedConnector } from '../connector/in-process.js';
import { RegionMemory } from '../memory/region-memory.js';
import { GuestAllocator } from '../memory/allocator.js';
import { EchoDriver, echoModule } from '../../reference/echo/index.js';

const BASE = 0x10000;
const BYTES = 8 << 20;

function simulated(latencyNs = 1000) {
  const vts = new VirtualTimeScheduler({ latencyNs });
  const { vbus } = createVbus({ modules: [echoModule], scheduler: vts });
  const bus = vbus.createBus('sim');
  bus.createDevice('vbus-echo', 'e0');
  const connector = new SimulatedConnector(bus, RegionMemory.create(BASE, BYTES), vts);
  return { vts, bus, connector, conn: connector.open('e0') };
}

describe("runUntilSettled: control verbs inside the embedder's virtual time", () => {
  it('a driver comes up only as the scheduler is stepped, and the verbs took virtual time', async () => {
    const { vts, conn, connector } = simulated();
    let up = false;
    const opening = EchoDriver.open(conn, new GuestAllocator(BASE, BYTES)).then((d) => ((up = true), d));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(up).toBe(false); // no real-time progress: the verbs wait in the scheduler
    const driver = await runUntilSettled(vts, opening);
    expect(up).toBe(true);
    // two shm verbs, each crossing to the host (1 µs) and back (1 µs), one after the other
    expect(connector.trace.filter((l) => / shm /.test(l))).toEqual(['1000 shm e0', '3000 shm e0']);
    expect(vts.nowNs).toBe(4000);
    driver.send(new Uint8Array(64));
    let got = 0;
    driver.onFrame = () => got++;
    await runUntilSettled(vts, new Promise<void>((resolve) => (driver.onFrame = () => (got++, resolve()))));
    expect(got).toBe(1);
  });

  it('a continuation runs at the virtual time its verb completed, whatever else is scheduled later', async () => {
    const { vts, conn, connector } = simulated();
    // unrelated traffic at every 0.5 µs that would carry the clock forward if continuations waited
    let ticks = 0;
    const tick = (): void => {
      if (++ticks < 40) vts.after(0.0005, tick);
    };
    vts.after(0.0005, tick);
    const times = await runUntilSettled(
      vts,
      (async () => {
        const t: number[] = [];
        await conn.call(0, new Uint8Array([1]));
        t.push(vts.nowNs);
        await conn.call(0, new Uint8Array([2]));
        t.push(vts.nowNs);
        return t;
      })(),
    );
    expect(times).toEqual([2000, 4000]);
    expect(connector.trace.filter((l) => / call /.test(l))).toEqual(['1000 call e0', '3000 call e0']);
  });

  it('passes on a rejection, in virtual time', async () => {
    const { vts, conn } = simulated();
    await expect(runUntilSettled(vts, conn.call(99))).rejects.toThrow(/unknown call 99/);
    expect(vts.nowNs).toBe(2000);
  });

  it('gives up with an error after maxSteps tasks, or when the scheduler stays idle', async () => {
    const vts = new VirtualTimeScheduler();
    const forever = (): void => void vts.after(1, forever);
    forever();
    await expect(runUntilSettled(vts, new Promise(() => {}), { maxSteps: 50 })).rejects.toThrow(/still pending after 50 scheduler tasks \(virtual time 50 ms\)/);
    await expect(runUntilSettled(new VirtualTimeScheduler(), new Promise(() => {}), { maxIdleTurns: 3 })).rejects.toThrow(/nothing to run for 3 event-loop turns/);
  });

  it('drives a scheduler that has only step() and now()', async () => {
    const vts = new VirtualTimeScheduler();
    const value = new Promise<string>((resolve) => vts.after(5, () => resolve('done')));
    expect(await runUntilSettled({ step: () => vts.step(), now: () => vts.now() }, value)).toBe('done');
    expect(vts.now()).toBe(5);
  });
});
