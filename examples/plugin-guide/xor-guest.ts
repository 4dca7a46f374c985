// The plugin guide's worker guest: the same driver in its own thread. Quoted by the guide.
// #region worker-guest
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { XorDriver } from './xor-driver.js';

const g = connectWorkerGuest({ memoryBytes: 1 << 20 });
const d = await XorDriver.open(await g.bus.open('xor0'), g.allocator, 0x0f);
const got: number[][] = [];
d.onDone = (_slot, bytes) => got.push([...bytes]);
for (let i = 0; i < 8; i++) d.send(i, Uint8Array.of(i, 0xf0), i < 7);
while (got.length < 8) await new Promise((r) => setImmediate(r));
parentPort!.postMessage({ got, kicks: d.ring.signalCounters.injected });
await g.shutdown();
// #endregion worker-guest
