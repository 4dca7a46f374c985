// Guest worker for `vbus demo --echo`: streams frames through the echo device and reports.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runEchoScenario } from '@vbus/core/reference/echo';

const g = connectWorkerGuest({ memoryBytes: 16 << 20 });
const opts = g.data as { burst: number; bursts: number; size: number };
const conn = await g.bus.open('echo0');
const start = performance.now();
const result = await runEchoScenario(conn, g.allocator, { ...opts, ringSize: 256 });
parentPort!.postMessage({ ...result, ms: performance.now() - start });
await g.shutdown();
