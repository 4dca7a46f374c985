// The guest worker of the bus rows. Batch mode (workerData.jobs): runs the jobs it is given, one
// connection each, posting each result as it finishes, then 'end'. Session mode
// (workerData.session): stays up and runs one job per {t:'job'} message until {t:'exit'}, so the
// suite can interleave bus rows with baseline rows on one long-lived guest.
import { parentPort, workerData } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { runJob, type Job, type JobResult } from './scenarios.js';

const { jobs, connect, session } = workerData.data as { jobs?: Job[]; session?: boolean; connect?: { wait?: 'event-loop' | 'blocking'; pollBudgetUs?: number } };
const g = connectWorkerGuest({ memoryBytes: 128 << 20, ...connect });
const block = connect?.wait === 'blocking' ? (done: () => boolean) => void g.poll(done, 10_000) : undefined;

async function run(job: Job): Promise<JobResult> {
  try {
    const conn = await g.bus.open(job.deviceName);
    return await runJob(job, conn, g.allocator, undefined, block);
  } catch (e) {
    return { job, error: e instanceof Error ? e.message : String(e) };
  }
}

if (session) {
  await new Promise<void>((resolve) => {
    parentPort!.on('message', (m: { t: 'job'; job: Job } | { t: 'exit' }) => {
      if (m.t === 'exit') return resolve();
      void run(m.job).then((result) => parentPort!.postMessage({ t: 'result', result }));
    });
  });
  parentPort!.removeAllListeners('message');
  await g.shutdown();
  parentPort!.close();
} else {
  for (const job of jobs ?? []) parentPort!.postMessage({ t: 'result', result: await run(job) });
  parentPort!.postMessage({ t: 'end' });
  await g.shutdown();
}
