import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory, runUntilSettled, SimulatedConnector, VirtualTimeScheduler, type Bus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { echoModule, runEchoScenario, type EchoScenarioResult } from '@vbus/core/reference/echo';

const MEM_BASE = 0x10000;
const MEM_BYTES = 8 << 20;

function newBus(): Bus {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('bus0');
  bus.createDevice('vbus-echo', 'echo0', { txCompleteEvery: 10 });
  return bus;
}

async function inProcess(burst: number, bursts: number, size: number): Promise<EchoScenarioResult> {
  const bus = newBus();
  const mem = RegionMemory.create(MEM_BASE, MEM_BYTES);
  const conn = new InProcessConnector(bus, mem).open('echo0');
  return runEchoScenario(conn, new GuestAllocator(MEM_BASE, MEM_BYTES), { burst, bursts, size });
}

async function simulated(burst: number, bursts: number, size: number): Promise<{ result: EchoScenarioResult; trace: string[] }> {
  const bus = newBus();
  const mem = RegionMemory.create(MEM_BASE, MEM_BYTES);
  const vts = new VirtualTimeScheduler({ latencyNs: 500 });
  const connector = new SimulatedConnector(bus, mem, vts);
  const conn = connector.open('echo0');
  const wait = async (done: () => boolean) => {
    while (!done()) if (!vts.step()) throw new Error('simulation went idle before the scenario finished');
  };
  // the verbs that bring the driver up complete in virtual time: runUntilSettled steps them
  const result = await runUntilSettled(vts, runEchoScenario(conn, new GuestAllocator(MEM_BASE, MEM_BYTES), { burst, bursts, size, wait }));
  vts.runUntilIdle();
  return { result, trace: connector.trace };
}

async function inWorker(burst: number, bursts: number, size: number): Promise<EchoScenarioResult> {
  const bus = newBus();
  bus.on('device-failed', (d, e) => console.error(`device ${d.name} failed: ${e.message}`));
  const connector = new WorkerConnector(bus);
  const guest = connector.spawn(new URL('./fixtures/echo-guest.ts', import.meta.url), { workerData: { device: 'echo0', burst, bursts, size } });
  const result = await new Promise<EchoScenarioResult>((resolve, reject) => {
    guest.worker.once('message', resolve);
    guest.worker.once('error', reject);
  });
  await guest.exited;
  return result;
}

describe('the same echo scenario over every connector', () => {
  const connectors = {
    'in-process': inProcess,
    simulated: async (b: number, n: number, s: number) => (await simulated(b, n, s)).result,
    worker: inWorker,
  };
  for (const [name, run] of Object.entries(connectors)) {
    it(`${name}: one frame costs one kick, one rx interrupt, one tx-complete`, async () => {
      const r = await run(1, 1, 64);
      expect(r).toMatchObject({ sent: 1, received: 1, intact: true, kicks: 1, rxInterrupts: 1, txCompleteInterrupts: 1 });
    });
    it(`${name}: a burst of 100 costs one kick and at most 10 tx-completes, every frame intact`, async () => {
      const r = await run(100, 1, 256);
      expect(r.received).toBe(100);
      expect(r.intact).toBe(true);
      // the driver writes the whole burst, then kicks once (Linux's xmit_more)
      expect(r.kicks).toBe(1);
      expect(r.txCompleteInterrupts).toBeGreaterThanOrEqual(1);
      expect(r.txCompleteInterrupts).toBeLessThanOrEqual(10);
    });
    it(`${name}: a stream of 60 bursts of 200 frames moves every frame in order with one kick per burst`, async () => {
      const r = await run(200, 60, 128);
      expect(r.received).toBe(12000);
      expect(r.intact).toBe(true);
      expect(r.kicks).toBeLessThanOrEqual(60);
      expect(r.txCompleteInterrupts).toBeLessThanOrEqual(60 * 20);
    });
  }

  it('simulated: two runs of the same scenario give the same trace, byte for byte', async () => {
    const a = await simulated(150, 3, 100);
    const b = await simulated(150, 3, 100);
    expect(a.trace.length).toBeGreaterThan(3);
    expect(a.trace.join('\n')).toBe(b.trace.join('\n'));
  });
});

describe('worker connector in blocking mode (Atomics.wait poll loop)', () => {
  it.each([0, 30])('moves every frame with the guest blocked in Atomics.wait between signals (adaptive poll budget %i µs both sides)', async (pollBudgetUs) => {
    const bus = newBus();
    const guest = new WorkerConnector(bus, { pollBudgetUs }).spawn(new URL('./fixtures/echo-guest-blocking.ts', import.meta.url), {
      workerData: { burst: 200, bursts: 30, size: 256, pollBudgetUs },
    });
    const r = await new Promise<EchoScenarioResult & { polls: number }>((resolve, reject) => {
      guest.worker.once('message', resolve);
      guest.worker.once('error', reject);
    });
    await guest.exited;
    expect(r).toMatchObject({ sent: 6000, received: 6000, intact: true });
    expect(r.kicks).toBeLessThanOrEqual(30);
    // without a budget a wait that finds no echo yet sleeps; with one it sleeps only when the
    // echo takes longer than the spin, which a quick host may never do
    if (pollBudgetUs === 0) expect(r.polls).toBeGreaterThan(0);
  });
});

it('refuses a poll budget that is not a sane number of microseconds', () => {
  expect(() => new WorkerConnector(newBus(), { pollBudgetUs: -1 })).toThrow(/pollBudgetUs = -1/);
  expect(() => new WorkerConnector(newBus(), { pollBudgetUs: Number.NaN })).toThrow(/pollBudgetUs/);
});

it("a worker guest's counters stay in introspection after it exits: its connection's final snapshot, kicks included", async () => {
  const bus = newBus();
  const guest = new WorkerConnector(bus).spawn(new URL('./fixtures/echo-guest.ts', import.meta.url), { workerData: { device: 'echo0', burst: 50, bursts: 4, size: 64 } });
  const r = await new Promise<EchoScenarioResult>((resolve, reject) => {
    guest.worker.once('message', resolve);
    guest.worker.once('error', reject);
  });
  await guest.exited;
  const d = bus.introspect().devices[0]!;
  expect(d.connections).toEqual([]);
  expect(d.closedConnections).toHaveLength(1);
  const final = d.closedConnections[0]!;
  expect(final.guest).toBe(guest.name);
  expect(final.guest).toBe('worker-1'); // numbered per Vbus
  expect(final.closed).toMatch(/exited|closed by guest/);
  expect(final.counters).toMatchObject({ frames: 200 });
  // the guest's kicks that reached the host: at least one, at most what the guest sent
  const tx = final.signals.find((s) => s.region === 1)!;
  expect(tx.kicks).toBeGreaterThanOrEqual(1);
  expect(tx.kicks).toBeLessThanOrEqual(r.kicks);
  expect(bus.takeClosedConnections('echo0')).toHaveLength(1);
  expect(bus.introspect().devices[0]!.closedConnections).toEqual([]);
});
