import { ContainerModule } from 'inversify';
import { describe, expect, it } from 'vitest';
import { GuestAllocator, InProcessConnector, RandomSource, RegionMemory, SimulatedConnector, VirtualTimeScheduler, createVbus, runUntilSettled, type Bus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import {
  SplitQueueDriver,
  VIRTIO_CONFIG_S_ACKNOWLEDGE as A,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER as D,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_VERSION_1,
  VirtioTransportClient,
  featureMask,
} from '@vbus/virtio-compat';
import { VirtioRngDriver, seededRandomSource, virtioRngModule } from './index.js';

const BASE = 0x10000;
const BYTES = 4 << 20;
const SEED = 0x5eed;

/** A bus whose RandomSource is seeded: the device's bytes are reproducible. */
function newBus(config: object = {}, seed = SEED): Bus {
  const entropy = new ContainerModule((o) => {
    o.bind<RandomSource>(RandomSource).toConstantValue(seededRandomSource(seed));
  });
  const { vbus } = createVbus({ modules: [entropy, virtioRngModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('virtio-rng', 'rng0', config);
  return bus;
}

/** The first n bytes of the seeded source, as the device draws them. */
function expected(n: number, seed = SEED): Uint8Array {
  const out = new Uint8Array(n);
  seededRandomSource(seed)(out);
  return out;
}

function guest(bus: Bus) {
  const memory = RegionMemory.create(BASE, BYTES);
  return { conn: new InProcessConnector(bus, memory).open('rng0'), allocator: new GuestAllocator(BASE, BYTES), memory };
}

describe('virtio-rng over the generic virtio transport', () => {
  for (const ring of ['split', 'packed'] as const) {
    it(`${ring} ring, in-process: read(n) returns the device's entropy stream in order, a burst in one kick`, async () => {
      const bus = newBus();
      const { conn, allocator } = guest(bus);
      const d = await VirtioRngDriver.open(conn, allocator, { ring, bufferSize: 64, queueSize: 16 });
      expect(d.features & featureMask(VIRTIO_F_VERSION_1)).not.toBe(0n);
      const got = await d.read(1000);
      expect(got).toEqual(expected(1000));
      expect(d.counters.bytes).toBe(1000);
      expect(d.counters.requests).toBe(16); // 1000 bytes in 64-byte buffers: 16 requests
      expect(d.counters.kicks).toBe(1); // the 16 buffers went out with one kick
      const c = bus.introspect().devices[0]!.counters as { requestq: Record<string, number> };
      expect(c.requestq).toMatchObject({ requests: 16, bytes: 1000, kicks: 1 });
    });
  }

  it('a device that fills less than the buffer (maxBytesPerRequest) is asked again until the read is whole', async () => {
    const bus = newBus({ maxBytesPerRequest: 10 });
    const { conn, allocator } = guest(bus);
    const d = await VirtioRngDriver.open(conn, allocator, { bufferSize: 64 });
    const got = await d.read(200);
    expect(got).toEqual(expected(200));
    expect(d.counters.bytes).toBe(200);
    expect(d.counters.requests).toBeGreaterThanOrEqual(20); // at most 10 bytes per request
  });

  it("concurrent reads are served in order, and the entropy source is the container's (another seed, other bytes)", async () => {
    const bus = newBus({}, 42);
    const { conn, allocator } = guest(bus);
    const d = await VirtioRngDriver.open(conn, allocator, { queueSize: 4, bufferSize: 32 });
    const [a, b, c] = await Promise.all([d.read(100), d.read(7), d.read(300)]);
    const all = expected(407, 42);
    expect(a).toEqual(all.subarray(0, 100));
    expect(b).toEqual(all.subarray(100, 107));
    expect(c).toEqual(all.subarray(107));
    expect(a).not.toEqual(expected(100));
  });

  it('simulated connector: the same bytes and the same signal trace on every run', async () => {
    const once = async () => {
      const bus = newBus();
      const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
      const connector = new SimulatedConnector(bus, RegionMemory.create(BASE, BYTES), vts);
      const conn = connector.open('rng0');
      const opening = VirtioRngDriver.open(conn, new GuestAllocator(BASE, BYTES), { ring: 'packed' });
      const d = await runUntilSettled(vts, opening); // the verbs cross in virtual time
      const reading = d.read(500);
      vts.runUntilIdle();
      return { bytes: await reading, trace: connector.trace.join('\n') };
    };
    const a = await once();
    const b = await once();
    expect(a.bytes).toEqual(expected(500));
    expect(a.trace).toBe(b.trace);
    expect(a.trace).toMatch(/to-host rng0 slot \d+/);
  });

  for (const ring of ['split', 'packed'] as const) {
    it(`worker connector, ${ring} ring: a guest thread reads the host device's entropy`, async () => {
      const bus = newBus();
      const g = new WorkerConnector(bus).spawn(new URL('./guest-worker.ts', import.meta.url), { workerData: { device: 'rng0', bytes: 4096, ring } });
      const r = await new Promise<{ bytes: Uint8Array; counters: { requests: number } }>((resolve, reject) => {
        g.worker.once('message', resolve);
        g.worker.once('error', reject);
      });
      await g.exited;
      expect(r.bytes).toEqual(expected(4096));
      expect(r.counters.requests).toBe(64);
      // the guest has exited and its connection is closed: the device's totals remain
      const c = (bus.introspect().devices[0]!.counters as { requestq: Record<string, number> }).requestq;
      expect(c).toMatchObject({ requests: 64, bytes: 4096 });
      expect(c.kicks).toBeGreaterThanOrEqual(1);
    });
  }
});

describe('virtio-rng against a hostile driver', () => {
  /** Bring the device up by hand (§3.1.1) with a split ring the test controls. */
  async function rawDriver(bus: Bus) {
    const { conn, allocator, memory } = guest(bus);
    const t = new VirtioTransportClient(conn, allocator);
    await t.setStatus(A);
    await t.setStatus(A | D);
    await t.setDriverFeatures(featureMask(VIRTIO_F_VERSION_1));
    await t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK);
    const vq = SplitQueueDriver.allocate<number>({ name: 'raw', memory, size: 8, allocator });
    const a = vq.addresses;
    const signal = await t.registerQueue(0, { address: a.descTable, length: 16 * 8 });
    await t.setupQueue(0, 8, { desc: a.descTable, driver: a.availRing, device: a.usedRing });
    await t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    return { t, vq, signal, allocator, memory, conn };
  }
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };

  it('a device-readable buffer sets DEVICE_NEEDS_RESET with an error naming the queue, the chain and §5.4.6.2; the bus and other drivers go on', async () => {
    const bus = newBus();
    const raw = await rawDriver(bus);
    const buf = raw.allocator.alloc(64);
    raw.vq.add([{ addr: buf, len: 16 }], [{ addr: buf + 16, len: 48 }], 1);
    raw.signal.inject();
    await settle();
    expect((await raw.t.getStatus()) & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(await raw.t.error()).toMatch(/rng0\.requestq: chain \d+ has 1 device-readable descriptor\(s\).*§5\.4\.6\.2/);
    expect(bus.status('rng0').state).toBe('ready'); // one connection needs a reset, not the device
    // another driver on the same device is served
    const { conn, allocator } = guest(bus);
    const d = await VirtioRngDriver.open(conn, allocator);
    expect((await d.read(32)).length).toBe(32);
  });

  it('a chain with no writable bytes is refused (§5.4.7.1), and a reset brings the connection back', async () => {
    const bus = newBus();
    const raw = await rawDriver(bus);
    raw.vq.add([], [{ addr: raw.allocator.alloc(8), len: 0 }], 1);
    raw.signal.inject();
    await settle();
    const err = await raw.t.error();
    expect(err).toMatch(/rng0\.requestq: chain \d+ has no writable bytes.*§5\.4\.7\.1/);
    expect((await raw.t.getStatus()) & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET).not.toBe(0);
    // a reset clears the error; the same signal (shm registrations live as long as the connection) serves a new ring
    await raw.t.setStatus(0);
    expect(await raw.t.error()).toBe('');
    await raw.t.setStatus(A);
    await raw.t.setStatus(A | D);
    await raw.t.setDriverFeatures(featureMask(VIRTIO_F_VERSION_1));
    await raw.t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK);
    const vq = SplitQueueDriver.allocate<number>({ name: 'raw2', memory: raw.memory, size: 8, allocator: raw.allocator });
    const a = vq.addresses;
    await raw.t.setupQueue(0, 8, { desc: a.descTable, driver: a.availRing, device: a.usedRing });
    await raw.t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    vq.add([], [{ addr: raw.allocator.alloc(32), len: 32 }], 7);
    raw.signal.inject();
    await settle();
    expect(vq.getUsed()).toMatchObject({ token: 7, len: 32 });
  });

  it('a descriptor pointing outside guest memory sets DEVICE_NEEDS_RESET naming the queue', async () => {
    const bus = newBus();
    const raw = await rawDriver(bus);
    raw.vq.add([], [{ addr: 0x7fff_0000_0000, len: 64 }], 1);
    raw.signal.inject();
    await settle();
    expect((await raw.t.getStatus()) & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(await raw.t.error()).toMatch(/rng0\.requestq/);
  });
});
