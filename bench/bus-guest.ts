// The guest worker of the bus rows: runs the jobs it is given, one connection each, and posts
// each result to the main thread as it finishes.
import { parentPort, workerData } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runJob, type Job } from './scenarios.js';

const { jobs, connect } = workerData.data as { jobs: Job[]; connect?: { wait?: 'event-loop' | 'blocking'; pollBudgetUs?: number } };
const g = connectWorkerGuest({ memoryBytes: 128 << 20, ...connect });
const block = connect?.wait === 'blocking' ? (done: () => boolean) => void g.poll(done, 10_000) : undefined;
for (const job of jobs) {
  let result;
  try {
    const conn = await g.bus.open(job.deviceName);
    result = await runJob(job, conn, g.allocator, undefined, block);
  } catch (e) {
    result = { job, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage({ t: 'result', result });
}
parentPort!.postMessage({ t: 'end' });
await g.shutdown();
