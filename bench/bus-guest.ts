// The guest worker of the bus rows: runs the jobs it is given, one connection each, and posts
// each result to the main thread as it finishes.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runJob, type Job } from './scenarios.js';

const g = connectWorkerGuest({ memoryBytes: 128 << 20 });
const { jobs } = g.data as { jobs: Job[] };
for (const job of jobs) {
  let result;
  try {
    const conn = await g.bus.open(job.deviceName);
    result = await runJob(job, conn, g.allocator);
  } catch (e) {
    result = { job, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage({ t: 'result', result });
}
parentPort!.postMessage({ t: 'end' });
await g.shutdown();
