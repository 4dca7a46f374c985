// Runs every snippet of docs/plugin-guide.md (the regions it quotes from this folder);
// test/doc-snippets.test.ts checks that the guide quotes them exactly as they are here.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GuestAllocator,
  InProcessConnector,
  IoqIndex,
  RegionMemory,
  RingError,
  SimulatedConnector,
  VirtualTimeScheduler,
  createVbus,
  ioqByteLength,
  MicrotaskScheduler,
  runUntilSettled,
  standaloneDeviceContext,
} from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { IoqMockDriver } from '@vbus/core/testing';
import { XOR_QUEUE_REQ, XOR_REFUSED } from './xor-abi.js';
import { XorDeviceClass, xorModule } from './xor-device.js';
import { XorDriver } from './xor-driver.js';

const BASE = 0x10000;
const BYTES = 1 << 20;

describe('the walk-through', () => {
  it('in one thread: ten buffers, one kick, each XORed with the key', async () => {
    // #region in-process
    const { vbus } = createVbus({ modules: [xorModule] });
    const bus = vbus.createBus('bus0');
    bus.createDevice('xor-cipher', 'xor0', { completeEvery: 4 });
    const memory = RegionMemory.create(BASE, BYTES);
    const conn = new InProcessConnector(bus, memory).open('xor0');
    const driver = await XorDriver.open(conn, new GuestAllocator(BASE, BYTES), 0x0f);
    const got: number[][] = [];
    driver.onDone = (_slot, bytes) => got.push([...bytes]);
    for (let i = 0; i < 10; i++) driver.send(i, Uint8Array.of(i, 0xf0), true);
    driver.flush(); // one kick for the ten
    await new Promise((r) => setImmediate(r));
    // #endregion in-process
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => [i ^ 0x0f, 0xff]));
    expect(driver.ring.signalCounters.injected).toBe(1);
    // #region introspect
    const dev = bus.introspect().devices.find((d) => d.name === 'xor0')!;
    // dev.counters: { buffers: 10, refused: 0, kicks: 1, interrupts: ..., suppressed: ... }
    // #endregion introspect
    expect(dev.counters).toMatchObject({ buffers: 10, refused: 0, kicks: 1 });
    expect((dev.counters.interrupts as number) + (dev.counters.suppressed as number)).toBe(3); // every 4, and the drain
  });

  it('in virtual time: nothing moves until the embedder steps; the trace repeats', async () => {
    const once = async () => {
      // #region simulated
      const { vbus } = createVbus({ modules: [xorModule] });
      const bus = vbus.createBus('bus0');
      bus.createDevice('xor-cipher', 'xor0');
      const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
      const connector = new SimulatedConnector(bus, RegionMemory.create(BASE, BYTES), vts);
      // the verbs cross in virtual time too: step the scheduler until the driver is up
      const driver = await runUntilSettled(vts, XorDriver.open(connector.open('xor0'), new GuestAllocator(BASE, BYTES), 0x55));
      let done = 0;
      driver.onDone = () => done++;
      for (let i = 0; i < 5; i++) driver.send(i, Uint8Array.of(i), i < 4);
      vts.runUntilIdle(); // signals cross in virtual time; connector.trace lists each
      // #endregion simulated
      expect(done).toBe(5);
      return connector.trace;
    };
    const a = await once();
    expect(a).toEqual(await once());
    // the control verbs are traced too (`<ns> <verb> <device>`); the signals name their slot
    expect(a.filter((line) => line.includes(' slot ')).length).toBe(2); // one kick to the host, one completion signal back
  });

  it('in a worker thread: the same driver, signals through the doorbell', async () => {
    const { vbus } = createVbus({ modules: [xorModule] });
    const bus = vbus.createBus('bus0');
    bus.createDevice('xor-cipher', 'xor0');
    // #region worker-host
    const guest = new WorkerConnector(bus).spawn(new URL('./xor-guest.ts', import.meta.url));
    const report = await new Promise<{ got: number[][]; kicks: number }>((resolve, reject) => {
      guest.worker.once('message', resolve);
      guest.worker.once('error', reject);
    });
    await guest.exited;
    // #endregion worker-host
    expect(report.got).toEqual(Array.from({ length: 8 }, (_, i) => [i ^ 0x0f, 0xff]));
    expect(report.kicks).toBe(1);
  });
});

describe('against hostile guests', () => {
  it('unit-tested against the IOQ mock driver, no bus: a bad buffer is refused, a broken ring throws a RingError', () => {
    // #region mock-driver
    const mock = new IoqMockDriver({ count: 8, name: 'xor0.req' });
    const cls = new XorDeviceClass();
    const context = standaloneDeviceContext({ name: 'xor0', scheduler: new MicrotaskScheduler() });
    const device = cls.create(cls.validate({ maxBuffer: 64 }), context);
    const handler = device.open({ id: 1, memory: mock.memory });
    const ring = mock.attachSouth(); // the device's end, waking north directly
    handler.shm({ id: XOR_QUEUE_REQ, connection: 1, address: mock.address, length: ioqByteLength(mock.count), memory: mock.memory, signal: ring.signal });
    mock.onSouthWake = () => ring.signal.wakeup(); // a push from north runs the device now

    mock.push({ data: new Uint8Array(65) }); // longer than maxBuffer
    mock.push({ ptr: 0x7fff_0000_0000, len: 16 }); // outside guest memory
    mock.push({ data: Uint8Array.of(1, 2, 3) });
    const back = mock.reclaim().map((b) => b.len);
    // back: [XOR_REFUSED, XOR_REFUSED, 3]; device.lastError names "xor0.req" and the buffer

    mock.push({ data: Uint8Array.of(4) });
    mock.pokeIndex(IoqIndex.Inuse, 'head', 5); // only the device may move the inuse head
    // the next push runs the handler, which meets the broken ring: a RingError naming xor0.req
    // #endregion mock-driver
    expect(back).toEqual([XOR_REFUSED, XOR_REFUSED, 3]);
    expect(device.lastError).toMatch(/^xor0\.req: buffer \[0x7fff00000000, \+16\)/);
    let thrown: unknown = null;
    try {
      mock.push({ data: Uint8Array.of(5) });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RingError);
    expect(String(thrown)).toMatch(/ring xor0\.req index 4: pop is only allowed at the head/);
  });

  it('property: any buffer a guest posts is done or refused, and the device never fails', async () => {
    // #region property
    const { vbus } = createVbus({ modules: [xorModule] });
    const bus = vbus.createBus('bus0');
    bus.createDevice('xor-cipher', 'xor0', { maxBuffer: 256 });
    const memory = RegionMemory.create(BASE, BYTES);
    const driver = await XorDriver.open(new InProcessConnector(bus, memory).open('xor0'), new GuestAllocator(BASE, BYTES), 1);
    const lens: number[] = [];
    driver.ring.onComplete = (_slot, len) => lens.push(len);
    const buffer = fc.record({
      ptr: fc.oneof(fc.constant(BASE + 0x8000), fc.integer({ min: 0, max: 2 ** 40 }), fc.constant(BASE + BYTES - 8)),
      len: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(2 ** 32 - 1)),
    });
    await fc.assert(
      fc.asyncProperty(buffer, async ({ ptr, len }) => {
        lens.length = 0;
        driver.ring.post(ptr, len, 0);
        await new Promise((r) => setImmediate(r));
        const ok = len <= 256 && memory.contains(ptr, len);
        expect(lens).toEqual([ok ? len : XOR_REFUSED]);
        expect(bus.status('xor0').state).toBe('ready');
      }),
      { numRuns: 200, seed: 1 },
    );
    // #endregion property
  });
});
