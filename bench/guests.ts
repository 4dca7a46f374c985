// How the suite runs a job on the guest side: in this thread (in-process connector), in a
// throw-away worker guest (one per latency mode), or in a long-lived worker guest session that
// takes one job at a time, so bus rows can be interleaved with baseline rows.
import { GuestAllocator, InProcessConnector, RegionMemory, type Bus } from '@vbus/core';
import { WorkerConnector, type WorkerGuest } from '@vbus/core/node';
import { runJob, type Job, type JobResult } from './scenarios.js';

const MEM_BASE = 0x10000;
const GUEST_URL = new URL('./bus-guest.ts', import.meta.url);

/** How a worker guest connects: the host's and the guest's poll budgets, and the guest's wait mode. */
export interface WorkerMode {
  hostPollBudgetUs?: number;
  guest?: { wait?: 'event-loop' | 'blocking'; pollBudgetUs?: number };
}

/** Run one job with the guest in this thread; `probe` brackets the measured span (memory row). */
export async function runInProcess(bus: Bus, job: Job, probe?: (phase: 'start' | 'end') => void, delivery: 'scheduled' | 'direct' = 'scheduled'): Promise<JobResult> {
  const bytes = 16 << 20;
  const conn = new InProcessConnector(bus, RegionMemory.create(MEM_BASE, bytes), { delivery }).open(job.deviceName);
  return runJob(job, conn, new GuestAllocator(MEM_BASE, bytes), probe);
}

/** Spawn a worker guest for `jobs`, collect one result per job, and wait for the worker to exit. */
export async function runInWorker(bus: Bus, jobs: Job[], mode: WorkerMode = {}): Promise<JobResult[]> {
  const connector = new WorkerConnector(bus, { pollBudgetUs: mode.hostPollBudgetUs ?? 0 });
  const guest = connector.spawn(GUEST_URL, { name: 'bench-guest', workerData: { jobs, connect: mode.guest } });
  const results: JobResult[] = [];
  await new Promise<void>((resolve, reject) => {
    guest.worker.on('message', (m: { t: 'result'; result: JobResult } | { t: 'end' }) => {
      if (m.t === 'result') results.push(m.result);
      else resolve();
    });
    guest.worker.once('error', reject);
    guest.worker.once('exit', (code) =>
      results.length < jobs.length ? reject(new Error(`bench guest exited with code ${code} after ${results.length} of ${jobs.length} jobs`)) : resolve(),
    );
  });
  await guest.exited;
  return results;
}

/** A worker guest that stays up and runs the jobs it is sent, one at a time. */
export class GuestSession {
  private constructor(private readonly guest: WorkerGuest) {}

  static start(bus: Bus, mode: WorkerMode = {}): GuestSession {
    const connector = new WorkerConnector(bus, { pollBudgetUs: mode.hostPollBudgetUs ?? 0 });
    return new GuestSession(connector.spawn(GUEST_URL, { name: 'bench-session', workerData: { session: true, connect: mode.guest } }));
  }

  /** Run one job in the worker guest; a worker that dies fails the promise. */
  run(job: Job): Promise<JobResult> {
    const w = this.guest.worker;
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`bench session guest exited with code ${code}`));
      const onMessage = (m: { t: 'result'; result: JobResult }) => {
        if (m.t !== 'result') return;
        w.off('message', onMessage);
        w.off('error', reject);
        w.off('exit', onExit);
        resolve(m.result);
      };
      w.on('message', onMessage);
      w.once('error', reject);
      w.once('exit', onExit);
      w.postMessage({ t: 'job', job });
    });
  }

  async stop(): Promise<void> {
    this.guest.worker.postMessage({ t: 'exit' });
    await this.guest.exited;
  }
}
