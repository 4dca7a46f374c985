// The worker guest of examples/block/bench.ts: runs one closed-loop load and reports.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runBlockLoad, type BlockLoadOptions } from './bench-load.js';

const g = connectWorkerGuest({ memoryBytes: 16 << 20 });
const o = g.data as BlockLoadOptions & { device: string };
const result = await runBlockLoad(await g.bus.open(o.device), g.allocator, o);
parentPort!.postMessage(result);
await g.shutdown();
