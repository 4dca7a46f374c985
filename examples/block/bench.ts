// The block device's bench rows: IOPS and signals per request at 4 KiB random reads and writes,
// in one run against two baselines of the same workload on the same device: queue depth 1 (every
// request waits for the previous one: a kick per request, the cost the ring and its signal
// economy remove), and depth D without batching (a kick asked for on every
// submit and a completion signal asked for after every request; the shm-signal's pending flag
// still drops the ones that would find the other side awake).
// `npm run bench:block [-- --requests N --depth D]`.
import { GuestAllocator, InProcessConnector, RegionMemory, createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { MemoryBlockBackend, blockModule } from './index.js';
import { runBlockLoad, type BlockLoadOptions, type BlockLoadResult } from './bench-load.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg('requests', 200_000);
const DEPTH = arg('depth', 32);
const DISK_SECTORS = 64 * 1024 * 2; // 64 MiB
const BASE = 0x10000;
const MEM = 16 << 20;

interface Row {
  connector: 'in-process' | 'worker';
  op: 'read' | 'write';
  depth: number;
  batching: boolean;
  iops?: number;
}

async function run(row: Row): Promise<BlockLoadResult & { deviceInterrupts: number; deviceSuppressed: number; maxBatch: number }> {
  const { vbus } = createVbus({ modules: [blockModule] });
  const bus = vbus.createBus('bench');
  bus.createDevice('vbus-block', 'blk0', { backend: new MemoryBlockBackend(DISK_SECTORS), completeEvery: row.batching ? 16 : 1 });
  const load: BlockLoadOptions = { depth: row.depth, requests: REQUESTS, sectors: 8, op: row.op, batching: row.batching, diskSectors: DISK_SECTORS };
  let r: BlockLoadResult;
  if (row.connector === 'in-process') {
    r = await runBlockLoad(new InProcessConnector(bus, RegionMemory.create(BASE, MEM)).open('blk0'), new GuestAllocator(BASE, MEM), load);
  } else {
    const guest = new WorkerConnector(bus).spawn(new URL('./bench-guest.ts', import.meta.url), { workerData: { device: 'blk0', ...load } });
    r = await new Promise<BlockLoadResult>((resolve, reject) => {
      guest.worker.once('message', resolve);
      guest.worker.once('error', reject);
    });
    await guest.exited;
  }
  const c = bus.introspect().devices[0]!.counters as Record<string, number>;
  return { ...r, deviceInterrupts: c.interrupts ?? 0, deviceSuppressed: c.suppressed ?? 0, maxBatch: c.maxBatch ?? 0 };
}

const rows: Row[] = [];
for (const connector of ['in-process', 'worker'] as const)
  for (const op of ['read', 'write'] as const)
    for (const [depth, batching] of [
      [1, false],
      [DEPTH, false],
      [DEPTH, true],
    ] as const)
      rows.push({ connector, op, depth, batching });

console.log(`vbus-block bench: 4 KiB random requests, ${REQUESTS} per row, memory backend (64 MiB); signals = kicks that crossed + completion signals that crossed`);
// warm up the JIT on both connectors before the measured rows
await run({ connector: 'in-process', op: 'read', depth: DEPTH, batching: true });
await run({ connector: 'worker', op: 'write', depth: DEPTH, batching: true });
console.log('connector   op     depth  batching        IOPS   MB/s  kicks/req  irqs/req  signals/req  max batch  vs depth 1');
for (const row of rows) {
  const r = await run(row);
  row.iops = r.iops;
  const qd1 = rows.find((x) => x.connector === row.connector && x.op === row.op && x.depth === 1)!.iops!;
  const perReq = (n: number) => (n / r.requests).toFixed(3);
  console.log(
    [
      row.connector.padEnd(11),
      row.op.padEnd(6),
      String(row.depth).padStart(5),
      (row.batching ? '  more, every 16' : '  off').padEnd(15),
      Math.round(r.iops).toString().padStart(10),
      ((r.iops * 4096) / 1e6).toFixed(0).padStart(6),
      perReq(r.kicks).padStart(10),
      perReq(r.deviceInterrupts).padStart(9),
      perReq(r.kicks + r.deviceInterrupts).padStart(12),
      String(r.maxBatch).padStart(10),
      `${(r.iops / qd1).toFixed(2)}x`.padStart(11),
      r.errors ? `  ERRORS ${r.errors}` : '',
    ].join(' '),
  );
}
