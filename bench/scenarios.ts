// The guest side of every bus measurement, the same code on the in-process connector (main
// thread) and in the worker guest (bench/bus-guest.ts).
import type { GuestAllocator, GuestConnection } from '@vbus/core';
import { EchoDriver } from '@vbus/core/reference/echo';
import { SEND_MORE, SEND_NOW, TxRoomWaiter, type GuestNic, type NicSendOptions } from '@vbus/net';
import { VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';
import { percentile } from './stats.js';

export type DeviceKind = 'echo' | 'venet' | 'virtio-net';

/** What the benchmark drives: every GuestNic offers it, and so does the echo device's driver. */
type BenchDriver = Pick<GuestNic, 'flush' | 'signalCounters' | 'txPending'> &
  Partial<Pick<GuestNic, 'onTxWake'>> & {
    send(frame: Uint8Array, options?: NicSendOptions): boolean;
    onFrame: (frame: Uint8Array) => void;
    readonly counters: { readonly sent: number; readonly received: number };
  };

export const RING = 256;

async function openDriver(device: DeviceKind, conn: GuestConnection, allocator: GuestAllocator, driverPollTurns = 0): Promise<BenchDriver> {
  if (device === 'echo') return EchoDriver.open(conn, allocator, { ringSize: RING, pollTurns: driverPollTurns });
  if (device === 'virtio-net') return VirtioNetDriver.open(conn, allocator, { queueSize: RING });
  return VenetDriver.open(conn, allocator, { ringSize: RING });
}

export interface StreamJob {
  kind: 'stream';
  device: DeviceKind;
  deviceName: string;
  size: number;
  frames: number;
  /** false: every frame is sent on its own with a kick (notification prevention on the driver side off). */
  batching: boolean;
  /** Echo only: turns the driver's rings poll before unmasking (`EchoDriver` `pollTurns`); default 0. */
  driverPollTurns?: number;
}
export interface ScenarioJob {
  kind: 'scenario';
  device: 'echo';
  deviceName: string;
  size: number;
  burst: number;
  bursts: number;
}
export interface LatencyJob {
  kind: 'latency';
  device: 'echo';
  deviceName: string;
  size: number;
  samples: number;
  /**
   * How the guest waits for the echo: 'event-loop' (default: yield with setImmediate, the guest
   * never sleeps), or 'blocking' (the worker guest sleeps in Atomics.wait, adaptive spin first if
   * its connection was made with a poll budget): supplied by the worker guest as `block`.
   */
  wait?: 'event-loop' | 'blocking';
}

/** A synchronous wait supplied by a blocking-mode worker guest (its poll loop). */
export type BlockingWait = (done: () => boolean) => void;
export type Job = StreamJob | ScenarioJob | LatencyJob;

export interface SignalTotals {
  frames: number;
  received: number;
  seconds: number;
  /** Process CPU time (every thread: user + system) over the same span as `seconds`, in µs. */
  cpuUs: number;
  kicks: number;
  kicksSuppressed: number;
  txCompleteInterrupts: number;
  rxInterrupts: number;
  eventInterrupts: number;
}
export interface LatencyResult {
  samples: number;
  p50Us: number;
  p99Us: number;
}
export type JobResult = { job: Job; signals?: SignalTotals; latency?: LatencyResult; error?: string };

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(done: () => boolean, what: string, conn: GuestConnection, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (conn.closed) throw new Error(`${what}: connection closed`);
    if (performance.now() > deadline) throw new Error(`${what}: no progress for ${timeoutMs} ms`);
    await tick();
  }
}

function totals(d: BenchDriver, frames: number, seconds: number, cpu: NodeJS.CpuUsage): SignalTotals {
  const sig = d.signalCounters();
  return {
    frames,
    received: d.counters.received,
    seconds,
    cpuUs: cpu.user + cpu.system,
    kicks: sig.tx.injected,
    kicksSuppressed: sig.tx.suppressed,
    txCompleteInterrupts: sig.tx.wakeups,
    rxInterrupts: sig.rx.wakeups,
    eventInterrupts: sig.events?.wakeups ?? 0,
  };
}

/**
 * Stream `frames` frames one way into the device. With batching the driver writes what the ring
 * allows (xmit_more) and kicks once per batch; without, each frame is its own send and kick. The
 * echo device sends each frame back, so the sender keeps at most one ring of frames unanswered.
 */
async function stream(job: StreamJob, conn: GuestConnection, allocator: GuestAllocator, probe?: (phase: 'start' | 'end') => void): Promise<SignalTotals> {
  const d = await openDriver(job.device, conn, allocator, job.driverPollTurns);
  probe?.('start');
  const frame = new Uint8Array(job.size);
  const echo = job.device === 'echo';
  let sent = 0;
  const cpu0 = process.cpuUsage();
  // a GuestNic waits for room as guest-nic's stream does; the echo driver has no wake: it polls
  const room = d.onTxWake !== undefined ? new TxRoomWaiter(d as Pick<GuestNic, 'onTxWake' | 'txPending'>) : undefined;
  const t0 = performance.now();
  while (sent < job.frames) {
    let n = 0;
    let refused = false;
    while (sent < job.frames && (!echo || sent - d.counters.received < RING)) {
      frame[0] = sent;
      if (!d.send(frame, job.batching ? SEND_MORE : SEND_NOW)) {
        refused = true;
        break;
      }
      sent++;
      n++;
      // unbatched: let the device run before the next frame, so that each kick can cross
      if (!job.batching) break;
    }
    if (job.batching && n > 0) d.flush();
    if (n > 0) room?.sent(); // progress: a later refusal polls again before sleeping
    await (refused && room ? room.wait() : tick());
  }
  if (echo) await until(() => d.counters.received >= job.frames && d.txPending() === 0, `${job.deviceName} stream`, conn);
  else await until(() => d.txPending() === 0, `${job.deviceName} stream`, conn);
  const seconds = (performance.now() - t0) / 1000;
  const r = totals(d, job.frames, seconds, process.cpuUsage(cpu0));
  probe?.('end');
  await conn.close();
  return r;
}

/** Bursts of `burst` frames, each burst kicked once and waited for (the connectors test's shape). */
async function scenario(job: ScenarioJob, conn: GuestConnection, allocator: GuestAllocator): Promise<SignalTotals> {
  const d = await openDriver('echo', conn, allocator);
  const frame = new Uint8Array(job.size);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  for (let b = 0; b < job.bursts; b++) {
    for (let i = 0; i < job.burst; i++) {
      if (!d.send(frame, i < job.burst - 1 ? SEND_MORE : SEND_NOW)) {
        d.flush();
        await until(() => d.txPending() < RING, 'burst', conn);
        i--;
        continue;
      }
      sent++;
    }
    const target = sent;
    await until(() => d.counters.received >= target && d.txPending() === 0, `${job.deviceName} burst`, conn);
  }
  const r = totals(d, sent, (performance.now() - t0) / 1000, process.cpuUsage(cpu0));
  await conn.close();
  return r;
}

/** One frame at a time: send, wait for its echo, repeat. */
async function latency(job: LatencyJob, conn: GuestConnection, allocator: GuestAllocator, block?: BlockingWait): Promise<LatencyResult> {
  const d = await openDriver('echo', conn, allocator);
  const frame = new Uint8Array(job.size);
  const samples = new Float64Array(job.samples);
  // a thousand unmeasured round trips first: the path is optimized by then (100 left the first
  // repetition of a quick run half in the interpreter)
  const warmup = Math.min(1000, Math.floor(job.samples / 2));
  // one handler for every sample, and performance.now() (a double) rather than hrtime.bigint()
  // (a BigInt per call)
  let t1 = 0;
  // event-loop mode waits as an application would: for the frame handler to resolve a promise
  // (its continuation runs as soon as the echo is handled: in-process, within the same turn)
  let echoed: (() => void) | undefined;
  d.onFrame = () => {
    t1 = performance.now();
    echoed?.();
  };
  const arrived = () => t1 !== 0;
  let pending = -1;
  let watched = -2;
  let stuck: ((e: Error) => void) | undefined;
  const watchdog = setInterval(() => {
    // no echo for a whole interval (10 s) while a sample waits: fail rather than hang
    if (pending !== -1 && pending === watched) stuck?.(new Error(`${job.deviceName} latency: no echo for 10 s (connection ${conn.closed ? 'closed' : 'open'})`));
    watched = pending;
  }, 10_000);
  try {
    for (let i = -warmup; i < job.samples; i++) {
      t1 = 0;
      const t0 = performance.now();
      d.send(frame);
      if (job.wait === 'blocking') {
        if (!block) throw new Error('a blocking latency job needs a blocking-mode guest');
        block(arrived);
        if (t1 === 0) throw new Error(`${job.deviceName} latency: no echo within the poll timeout`);
      } else if (t1 === 0) {
        pending = i;
        await new Promise<void>((resolve, reject) => {
          echoed = resolve;
          stuck = reject;
        });
        pending = -1;
      }
      if (i >= 0) samples[i] = (t1 - t0) * 1000;
    }
  } finally {
    clearInterval(watchdog);
    echoed = undefined;
  }
  await conn.close();
  return { samples: job.samples, p50Us: percentile(samples, 0.5), p99Us: percentile(samples, 0.99) };
}

/** Run one job on an open connection (closed when done). */
export async function runJob(job: Job, conn: GuestConnection, allocator: GuestAllocator, probe?: (phase: 'start' | 'end') => void, block?: BlockingWait): Promise<JobResult> {
  try {
    if (job.kind === 'stream') return { job, signals: await stream(job, conn, allocator, probe) };
    if (job.kind === 'scenario') return { job, signals: await scenario(job, conn, allocator) };
    return { job, latency: await latency(job, conn, allocator, block) };
  } catch (e) {
    return { job, error: e instanceof Error ? e.message : String(e) };
  }
}
