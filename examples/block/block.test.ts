import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestAllocator, InProcessConnector, RegionMemory, SimulatedConnector, VirtualTimeScheduler, createVbus, openDriverRing, runUntilSettled, type Bus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { BLOCK_SECTOR_SIZE, BlockDriver, MemoryBlockBackend, blockModule, runBlockScenario, type BlockBackend, type BlockScenarioResult } from './index.js';
import { FileBlockBackend } from './file-backend.js';

const BASE = 0x10000;
const BYTES = 8 << 20;
const SCENARIO = { blocks: 200, sectorsPerBlock: 8, burst: 32 };

function newBus(backend: BlockBackend = new MemoryBlockBackend(4096), config: object = {}): Bus {
  const { vbus } = createVbus({ modules: [blockModule] });
  const bus = vbus.createBus('bus0');
  bus.createDevice('vbus-block', 'blk0', { backend, ...config });
  return bus;
}

const connectors: Record<string, (bus: Bus) => Promise<BlockScenarioResult>> = {
  'in-process': async (bus) => runBlockScenario(new InProcessConnector(bus, RegionMemory.create(BASE, BYTES)).open('blk0'), new GuestAllocator(BASE, BYTES), SCENARIO),
  simulated: async (bus) => {
    const vts = new VirtualTimeScheduler({ latencyNs: 500 });
    const conn = new SimulatedConnector(bus, RegionMemory.create(BASE, BYTES), vts).open('blk0');
    const wait = async (done: () => boolean) => {
      while (!done()) if (!vts.step()) throw new Error('simulation went idle before the scenario finished');
    };
    // the control verbs (open, shm) cross in virtual time too: step until the scenario settles
    return runUntilSettled(vts, runBlockScenario(conn, new GuestAllocator(BASE, BYTES), { ...SCENARIO, wait }));
  },
  worker: async (bus) => {
    const guest = new WorkerConnector(bus).spawn(new URL('./guest-worker.ts', import.meta.url), { workerData: { device: 'blk0', ...SCENARIO } });
    const result = await new Promise<BlockScenarioResult>((resolve, reject) => {
      guest.worker.once('message', resolve);
      guest.worker.once('error', reject);
    });
    await guest.exited;
    return result;
  },
};

describe('the same block workload over every connector', () => {
  for (const [name, run] of Object.entries(connectors)) {
    it(`${name}: writes, flush, reads back, discard; one kick per burst, completions mitigated`, async () => {
      const bus = newBus(new MemoryBlockBackend(4096), { completeEvery: 8 });
      const r = await run(bus);
      expect(r.intact).toBe(true);
      expect(r.sectors).toBe(4096);
      expect(r.ok).toBe(2 * SCENARIO.blocks + 3);
      const bursts = 2 * Math.ceil(SCENARIO.blocks / SCENARIO.burst);
      // one kick per burst of 32 plus one per promise request: never one per request
      expect(r.kicks).toBeLessThanOrEqual(bursts + 3);
      const c = bus.introspect().devices[0]!.counters as Record<string, number>;
      expect(c).toMatchObject({ requests: 2 * SCENARIO.blocks + 3, writes: SCENARIO.blocks, reads: SCENARIO.blocks + 1, flushes: 1, discards: 1, refused: 0, ioErrors: 0 });
      // requests were batched per kick, and completion signals stayed below one per request
      expect(c.maxBatch).toBeGreaterThan(1);
      expect(c.interrupts).toBeLessThan(c.requests / 2);
    });
  }
});

describe('backends', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('a file backend holds exactly what the guest wrote, at sector * 512, and zeros where it discarded', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbus-block-'));
    const path = join(dir, 'disk.img');
    const backend = new FileBlockBackend(path, { sectors: 2048 });
    try {
      const r = await connectors['in-process']!(newBus(backend));
      expect(r.intact).toBe(true);
      expect(r.sectors).toBe(2048);
    } finally {
      backend.close();
    }
    const file = readFileSync(path);
    expect(file.length).toBe(2048 * BLOCK_SECTOR_SIZE);
    const spb = SCENARIO.sectorsPerBlock * BLOCK_SECTOR_SIZE;
    expect(file.subarray(0, spb).every((x) => x === 0)).toBe(true); // block 0 was discarded
    for (const b of [1, 57, SCENARIO.blocks - 1]) for (const i of [0, 1, spb - 1]) expect(file[b * spb + i]).toBe((b * 7 + i) & 0xff);
    // reopened without a size, the file keeps its geometry
    const again = new FileBlockBackend(path);
    expect(again.sectors).toBe(2048);
    again.close();
  });

  it('a read-only device refuses writes and discards with IOERR and still serves reads', async () => {
    const disk = new MemoryBlockBackend(64);
    disk.bytes.fill(0xab, 0, 512);
    const bus = newBus(disk, { readOnly: true });
    const mem = RegionMemory.create(BASE, BYTES);
    const alloc = new GuestAllocator(BASE, BYTES);
    const d = await BlockDriver.open(new InProcessConnector(bus, mem).open('blk0'), alloc);
    expect(d.info.readOnly).toBe(true);
    const buf = alloc.alloc(512);
    await expect(d.write(0, 1, buf)).rejects.toThrow(/status IOERR/);
    await expect(d.discard(0, 1)).rejects.toThrow(/status IOERR/);
    expect(await d.read(0, 1, buf)).toBe(512);
    expect(mem.read(buf, 512).every((x) => x === 0xab)).toBe(true);
    expect(bus.introspect().devices[0]!.attributes.lastError).toMatch(/discard on a read-only device/);
  });

  it('the promise API queues requests beyond the ring and finishes them all', async () => {
    const bus = newBus();
    const mem = RegionMemory.create(BASE, BYTES);
    const alloc = new GuestAllocator(BASE, BYTES);
    const d = await BlockDriver.open(new InProcessConnector(bus, mem).open('blk0'), alloc, { ringSize: 4 });
    const buf = alloc.alloc(4096);
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => d.write(i * 8, 8, buf)));
    expect(all).toEqual(Array(40).fill(4096));
    expect(d.inFlight).toBe(0);
  });
});

describe('configuration and setup', () => {
  it('refuses a bad config with a ConfigError naming the field', () => {
    const { vbus } = createVbus({ modules: [blockModule] });
    const bus = vbus.createBus('b');
    expect(() => bus.createDevice('vbus-block', 'x', {})).toThrow(/backend/);
    expect(() => bus.createDevice('vbus-block', 'x', { backend: new MemoryBlockBackend(8), maxSectors: 0 })).toThrow(/maxSectors/);
    expect(() => bus.createDevice('vbus-block', 'x', { backend: new MemoryBlockBackend(8), completeEvery: 1.5 })).toThrow(/completeEvery/);
    expect(() => bus.createDevice('vbus-block', 'x', { backend: new MemoryBlockBackend(8), readOnly: 'yes' })).toThrow(/readOnly/);
  });

  it('a request ring larger than queueMax is refused at registration, naming the ring; the driver caps its ring to it', async () => {
    const bus = newBus(new MemoryBlockBackend(64), { queueMax: 16 });
    const mem = RegionMemory.create(BASE, BYTES);
    const alloc = new GuestAllocator(BASE, BYTES);
    const conn = new InProcessConnector(bus, mem).open('blk0');
    await expect(openDriverRing(conn, { id: 0, count: 64, allocator: alloc })).rejects.toThrow(/blk0\.req/);
    const d = await BlockDriver.open(new InProcessConnector(bus, mem).open('blk0'), alloc, { ringSize: 64 });
    expect(d.ring.count).toBe(16);
    expect(d.info).toEqual({ sectors: 64, sectorSize: 512, maxSectors: 256, readOnly: false, queueMax: 16 });
  });
});
