// A guest worker for the block tests: opens the device named in workerData and runs the scenario.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runBlockScenario } from './block-scenario.js';

const g = connectWorkerGuest({ memoryBytes: 8 << 20 });
const opts = g.data as { device: string; blocks: number; sectorsPerBlock: number; burst: number };
const result = await runBlockScenario(await g.bus.open(opts.device), g.allocator, opts);
parentPort!.postMessage(result);
await g.shutdown();
