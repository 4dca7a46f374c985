// A guest worker for the virtio-rng tests: opens the device, reads bytes, reports them.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { VirtioRngDriver } from './virtio-rng-driver.js';

const g = connectWorkerGuest({ memoryBytes: 4 << 20 });
const o = g.data as { device: string; bytes: number; ring: 'split' | 'packed' };
const d = await VirtioRngDriver.open(await g.bus.open(o.device), g.allocator, { ring: o.ring });
const bytes = await d.read(o.bytes);
parentPort!.postMessage({ bytes, counters: d.counters });
await g.shutdown();
