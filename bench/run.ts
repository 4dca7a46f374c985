// The benchmark suite. Baseline and bus rows run interleaved (ring, bus, ring, bus, ..., ringbuf.js)
// and repeated, so a noisy machine moves both sides of each ratio together: every ratio is the
// median of per-repetition ratios against the baseline run next to it. Then latency (also
// repeated and paired), the signal-count rows, scale and memory; then the targets are checked.
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import { createVbus, type Bus } from '@vbus/core';
import { echoModule } from '@vbus/core/reference/echo';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { BaselineThread, type PingPongBaseline, type RingBaseline } from './baselines.js';
import { GuestSession, runInProcess, runInWorker, type WorkerMode } from './guests.js';
import { emptyRow, type BenchReport, type BenchRow, type LatencyRow, type MemoryRow } from './report.js';
import { runScale } from './scale.js';
import { median, summarize } from './stats.js';
import { SinkBackend } from './sink-backend.js';
import { checkTargets } from './targets.js';
import type { DeviceKind, Job, JobResult, LatencyJob, SignalTotals, StreamJob } from './scenarios.js';

export type { BenchReport, BenchRow, LatencyRow, MemoryRow, ScaleRow, TargetCheck } from './report.js';
export { checkTargets } from './targets.js';

export interface BenchOptions {
  /** Fewer frames and repetitions; every target is still evaluated at its own size. */
  quick?: boolean;
  /** Override the frames per throughput row (and the memory row); for tests. */
  frames?: number;
  /** Override the repetitions of the paired and latency rows. */
  reps?: number;
  /** Sections to run (default all); a section left out reports no rows and its targets n/a. */
  sections?: readonly BenchSection[];
  /** Progress lines (the CLI writes them to stderr). */
  onProgress?: (message: string) => void;
}

/** The parts of a run: the paired throughput rows, latency, signal counts, scale, memory. */
export type BenchSection = 'throughput' | 'latency' | 'signals' | 'scale' | 'memory';
export const BENCH_SECTIONS: readonly BenchSection[] = ['throughput', 'latency', 'signals', 'scale', 'memory'];

const TX_COMPLETE_DEFAULT = 10;
const SIZES = [64, 1500] as const;
/** Spin budget of the adaptive-poll latency row. */
const ADAPTIVE_POLL_US = 50;
/** The heap target's size: quick runs measure it too. */
const HEAP_TARGET_FRAMES = 10_000_000;

/**
 * The throughput rows' devices. In the echo row both ends poll 16 turns before they unmask, as
 * venet's and virtio-net's devices do by default: the device `echo-stream` (echo's `pollTurns`)
 * and its driver (`EchoDriver` `pollTurns`). The signal, latency and memory rows keep the classic
 * echo device and driver (pollTurns 0), so their exact counts mean what they always meant.
 */
const DEVICES: ReadonlyArray<{ device: DeviceKind; name: string; row: string; driverPollTurns?: number }> = [
  { device: 'echo', name: 'echo-stream', row: 'echo stream, tx-complete every 10', driverPollTurns: 16 },
  { device: 'venet', name: 'venet0', row: 'venet stream, tx-complete every 10' },
  { device: 'virtio-net', name: 'virtio-net0', row: 'virtio-net stream (device default notification suppression)' },
];

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * Build the bus every bus row uses: echo devices with tx-complete every 1, 10, 64, a venet and a
 * virtio-net device, both NICs delivering to a sink backend (each frame copied by the device and
 * read, as the ring baseline's consumer does).
 */
function newBus(): Bus {
  const { vbus } = createVbus({ modules: [echoModule, venetModule, virtioNetModule] });
  const bus = vbus.createBus('bench');
  const sink = new SinkBackend();
  for (const n of [1, 10, 64]) bus.createDevice('vbus-echo', `echo-n${n}`, { txCompleteEvery: n });
  bus.createDevice('vbus-echo', 'echo-stream', { txCompleteEvery: TX_COMPLETE_DEFAULT, pollTurns: 16 });
  bus.createDevice('virtual-ethernet', 'venet0', { txCompleteEvery: TX_COMPLETE_DEFAULT, backend: sink });
  bus.createDevice('virtio-net', 'virtio-net0', { backend: sink });
  return bus;
}

function streamJob(device: DeviceKind, deviceName: string, size: number, frames: number, batching = true, driverPollTurns = 0): StreamJob {
  return { kind: 'stream', device, deviceName, size, frames, batching, driverPollTurns };
}

/** The runs of one row and, per run, the baseline runs it is paired with. */
interface Series {
  runs: SignalTotals[];
  ring: RingBaseline[];
  ringbuf: Array<RingBaseline | undefined>;
  errors: string[];
}

function signalsOf(r: JobResult): SignalTotals {
  if (!r.signals) throw new Error(r.error ?? 'no result');
  return r.signals;
}

/** Run the whole suite and return every figure. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const started = performance.now();
  const loadStart = os.loadavg();
  const progress = options.onProgress ?? (() => {});
  const quick = options.quick ?? false;
  const custom = options.frames !== undefined;
  // full: 1 M frames per run, 5 repetitions: about 5 minutes on a quiet 2-core machine
  const F = options.frames ?? (quick ? 300_000 : 1_000_000);
  const reps = options.reps ?? (custom ? 1 : quick ? 3 : 5);
  const memoryFrames = options.frames ?? HEAP_TARGET_FRAMES;
  const postFrames = custom ? F : quick ? 200_000 : 500_000;
  const atomicsRounds = custom ? Math.min(F, 2000) : quick ? 2000 : 10_000;
  const spinRounds = custom ? Math.min(F, 20_000) : quick ? 20_000 : 100_000;
  const latencySamples = custom ? Math.min(F, 500) : quick ? 2000 : 10_000;
  const scaleFrames = Math.max(1000, Math.floor(F / (quick ? 2 : 5)));
  const scaleReps = custom ? 1 : quick ? 2 : 3;
  const want = new Set(options.sections ?? BENCH_SECTIONS);

  const bus = newBus();
  bus.on('device-failed', (d, e) => progress(`device ${d.name} failed: ${e.message}`));
  progress('starting the baseline worker and the guest session');
  const bt = await BaselineThread.start();
  const session = GuestSession.start(bus);
  const rows: BenchRow[] = [];
  const latency: LatencyRow[] = [];
  try {
    // --- warm-up: every code path once, so no repetition pays for compilation ---
    for (const size of want.has('throughput') ? SIZES : []) {
      await bt.ring(size, Math.min(F, 20_000));
      await bt.ringbuf(size, Math.min(F, 20_000));
      for (const d of DEVICES) {
        signalsOf(await session.run(streamJob(d.device, d.name, size, Math.min(F, 20_000), true, d.driverPollTurns)));
        signalsOf(await runInProcess(bus, streamJob(d.device, d.name, size, Math.min(F, 20_000), true, d.driverPollTurns)));
      }
    }

    // --- paired throughput: ring, bus, ring, bus, ring, bus, ringbuf.js; then in-process ---
    const series = new Map<string, Series>();
    const ringRuns = new Map<number, RingBaseline[]>(SIZES.map((s) => [s, []]));
    const ringbufRuns = new Map<number, RingBaseline[]>(SIZES.map((s) => [s, []]));
    const seriesOf = (key: string): Series => {
      let s = series.get(key);
      if (!s) series.set(key, (s = { runs: [], ring: [], ringbuf: [], errors: [] }));
      return s;
    };
    for (let rep = 0; rep < (want.has('throughput') ? reps : 0); rep++) {
      for (const size of SIZES) {
        // alternate the device order so that no device always runs first or last
        const order = rep % 2 ? [...DEVICES].reverse() : DEVICES;
        const pending: Array<{ key: string; ring: RingBaseline; r: JobResult }> = [];
        const repRings: RingBaseline[] = [];
        for (const d of order) {
          progress(`rep ${rep + 1}/${reps} ${size} B: ring, then ${d.device} (worker)`);
          const ring = await bt.ring(size, F);
          ringRuns.get(size)!.push(ring);
          repRings.push(ring);
          pending.push({ key: `worker/${d.name}/${size}`, ring, r: await session.run(streamJob(d.device, d.name, size, F, true, d.driverPollTurns)) });
        }
        progress(`rep ${rep + 1}/${reps} ${size} B: ringbuf.js`);
        const rb = await bt.ringbuf(size, F);
        ringbufRuns.get(size)!.push(rb);
        const repRing = [...repRings].sort((a, b) => a.framesPerSec - b.framesPerSec)[repRings.length >> 1]!;
        for (const d of order) {
          progress(`rep ${rep + 1}/${reps} ${size} B: ${d.device} (in-process)`);
          pending.push({ key: `in-process/${d.name}/${size}`, ring: repRing, r: await runInProcess(bus, streamJob(d.device, d.name, size, F, true, d.driverPollTurns)) });
        }
        for (const p of pending) {
          const s = seriesOf(p.key);
          if (p.r.signals) {
            s.runs.push(p.r.signals);
            s.ring.push(p.ring);
            s.ringbuf.push(rb);
          } else s.errors.push(p.r.error ?? 'no result');
        }
      }
    }
    progress(`postMessage baseline`);
    const post = new Map<number, number>();
    const postCpu = new Map<number, number>();
    for (const size of SIZES) {
      await bt.postMessage(size, Math.min(postFrames, 10_000));
      const cpu0 = process.cpuUsage();
      const p = await bt.postMessage(size, postFrames);
      const cpu = process.cpuUsage(cpu0);
      post.set(size, p.framesPerSec);
      postCpu.set(size, (cpu.user + cpu.system) / p.frames);
    }

    // without the throughput section, one short ring run per size still gives the signal rows a ratio
    for (const size of want.has('throughput') ? [] : SIZES) ringRuns.get(size)!.push(await bt.ring(size, Math.min(F, 100_000)));
    for (const [name, runsBySize, note] of [
      ['hand-written SPSC ring', ringRuns, 'kicks = Atomics.notify calls (only when the consumer slept); interrupts = consumer sleeps'],
      ['ringbuf.js (npm), both sides polling', ringbufRuns, '2-byte length + frame per record; producer and consumer poll, never sleep'],
    ] as const) {
      for (const size of SIZES) {
        const rs = runsBySize.get(size)!;
        if (rs.length === 0) continue;
        const fps = summarize(rs.map((r) => r.framesPerSec));
        const mid = rs.find((r) => r.framesPerSec === fps.median) ?? rs[0]!;
        const isRing = name.startsWith('hand');
        rows.push(
          emptyRow({
            section: 'baseline',
            name,
            device: 'none',
            connector: 'worker (raw SAB)',
            frameSize: size,
            frames: mid.frames,
            reps: rs.length,
            seconds: median(rs.map((r) => r.seconds)),
            framesPerSec: fps.median,
            framesPerSecRuns: fps,
            bitsPerSec: fps.median * size * 8,
            cpuUsPerFrame: median(rs.map((r) => r.cpuUs / r.frames)),
            kicks: isRing ? mid.notifies : null,
            kicksPerFrame: isRing ? mid.notifies / mid.frames : null,
            interrupts: isRing ? mid.consumerSleeps : null,
            interruptsPerFrame: isRing ? mid.consumerSleeps / mid.frames : null,
            ratioToRing: isRing ? 1 : median(rs.map((r, i) => r.framesPerSec / ringRuns.get(size)![Math.min(i * DEVICES.length, ringRuns.get(size)!.length - 1)]!.framesPerSec)),
            ratioToRingbuf: isRing ? null : 1,
            ratioToPostMessage: fps.median / post.get(size)!,
            note,
          }),
        );
      }
    }
    for (const size of SIZES) {
      rows.push(
        emptyRow({
          section: 'baseline',
          name: 'postMessage per frame',
          device: 'none',
          connector: 'worker (MessagePort)',
          frameSize: size,
          frames: postFrames,
          reps: 1,
          framesPerSec: post.get(size)!,
          bitsPerSec: post.get(size)! * size * 8,
          cpuUsPerFrame: postCpu.get(size)!,
          kicks: postFrames,
          kicksPerFrame: 1,
          ratioToRing: post.get(size)! / median(ringRuns.get(size)!.map((r) => r.framesPerSec)),
          ratioToPostMessage: 1,
          note: 'every message is a cross-thread wake',
        }),
      );
    }
    for (const connector of want.has('throughput') ? ['in-process', 'worker'] : [])
      for (const d of DEVICES)
        for (const size of SIZES) {
          const job = streamJob(d.device, d.name, size, F, true, d.driverPollTurns);
          rows.push(seriesRow('throughput', d.row, connector, job, series.get(`${connector}/${d.name}/${size}`), post.get(size)!));
        }

    // --- latency, repeated and paired with the raw ping-pongs of the same repetition ---
    const latencyJob = (wait?: LatencyJob['wait']): LatencyJob => ({ kind: 'latency', device: 'echo', deviceName: 'echo-n10', size: 64, samples: latencySamples, wait });
    const latencyModes: Array<{ connector: string; note: string; run: () => Promise<JobResult | undefined> }> = [
      { connector: 'in-process', note: 'send one frame, wait for its echo (signals through microtasks)', run: () => runInProcess(bus, latencyJob()) },
      {
        connector: 'in-process, direct delivery',
        note: 'signals run their handlers synchronously, run to completion',
        run: () => runInProcess(bus, latencyJob(), undefined, 'direct'),
      },
      { connector: 'worker', note: 'send one frame, wait for its echo (guest yields to its event loop)', run: () => session.run(latencyJob()) },
      {
        connector: 'worker, sleeping waits',
        note: 'guest sleeps in Atomics.wait, host in Atomics.waitAsync',
        run: async () => (await runInWorker(bus, [latencyJob('blocking')], { guest: { wait: 'blocking' } }))[0],
      },
      {
        connector: `worker, adaptive poll ${ADAPTIVE_POLL_US} µs`,
        note: `both sides spin up to ${ADAPTIVE_POLL_US} µs for the next signal before sleeping`,
        run: async () =>
          (
            await runInWorker(bus, [latencyJob('blocking')], {
              hostPollBudgetUs: ADAPTIVE_POLL_US,
              guest: { wait: 'blocking', pollBudgetUs: ADAPTIVE_POLL_US },
            } satisfies WorkerMode)
          )[0],
      },
    ];
    const atomics: PingPongBaseline[] = [];
    const spin: PingPongBaseline[] = [];
    const lat = latencyModes.map(() => [] as Array<JobResult | undefined>);
    for (let rep = 0; rep < (want.has('latency') ? reps : 0); rep++) {
      progress(`latency ${rep + 1}/${reps}: raw ping-pongs`);
      atomics.push(await bt.pingPong('atomics', atomicsRounds));
      spin.push(await bt.pingPong('spin', spinRounds));
      for (const [i, m] of latencyModes.entries()) {
        progress(`latency ${rep + 1}/${reps}: ${m.connector}`);
        lat[i]!.push(await m.run());
      }
    }
    for (const [kind, bs] of want.has('latency')
      ? ([
          ['atomics', atomics],
          ['spin', spin],
        ] as const)
      : []) {
      const p50 = summarize(bs.map((b) => b.p50Us));
      latency.push({
        name: kind === 'atomics' ? 'Atomics.wait/notify ping-pong' : 'spin ping-pong',
        device: 'none',
        connector: 'worker (raw SAB)',
        frameSize: 0,
        samples: bs[0]!.rounds,
        reps: bs.length,
        p50Us: p50.median,
        p99Us: median(bs.map((b) => b.p99Us)),
        p50Runs: p50,
        ratioToAtomicsRtt: median(bs.map((b, i) => b.p50Us / atomics[i]!.p50Us)),
        ratioToSpinRtt: median(bs.map((b, i) => b.p50Us / spin[i]!.p50Us)),
        measured: true,
        note: 'round trip',
      });
    }
    for (const [i, m] of want.has('latency') ? latencyModes.entries() : []) latency.push(latencyRow(m.connector, latencyJob(), lat[i]!, m.note, atomics, spin));

    // --- signal counts (independent of speed: one run each) ---
    const signalPlan: Array<{ job: Job; rowName: string; section: BenchRow['section'] }> = [
      {
        job: streamJob('echo', 'echo-n1', 64, Math.max(1, Math.floor(F / 10)), false),
        rowName: 'echo, notification prevention off (kick per frame, tx-complete every 1)',
        section: 'throughput',
      },
      ...[1, 10, 64].map((n) => ({
        job: streamJob('echo', `echo-n${n}`, 64, Math.max(1, Math.floor(F / 2))),
        rowName: `tx-complete mitigation N=${n} (stream)`,
        section: 'signals' as const,
      })),
      { job: { kind: 'scenario', device: 'echo', deviceName: 'echo-n10', size: 64, burst: 1, bursts: 1 }, rowName: 'single frame', section: 'signals' },
      { job: { kind: 'scenario', device: 'echo', deviceName: 'echo-n10', size: 64, burst: 100, bursts: 1 }, rowName: 'burst of 100', section: 'signals' },
      {
        job: { kind: 'scenario', device: 'echo', deviceName: 'echo-n10', size: 64, burst: 200, bursts: Math.max(1, Math.floor(F / 2 / 200)) },
        rowName: 'steady stream (bursts of 200, each waited for)',
        section: 'signals',
      },
    ];
    for (const connector of want.has('signals') ? (['in-process', 'worker'] as const) : [])
      for (const p of signalPlan) {
        progress(`signals ${connector}: ${p.rowName}`);
        const r = connector === 'in-process' ? await runInProcess(bus, p.job) : await session.run(p.job);
        const s = seriesOf(`signals/${connector}/${p.rowName}`);
        if (r.signals) {
          s.runs.push(r.signals);
          s.ring.push(ringRuns.get(p.job.size)!.at(-1)!);
          s.ringbuf.push(undefined);
        } else s.errors.push(r.error ?? 'no result');
        rows.push(seriesRow(p.section, p.rowName, connector, p.job, s, post.get(p.job.size)!));
      }
  } finally {
    await session.stop();
    await bt.stop();
  }

  // --- scale: 1, 2, 4, 8 guests on one switch, repeated in turn ---
  const scale = want.has('scale') ? await runScale(scaleFrames, 64, scaleReps, progress) : [];

  // --- memory: heap before/after N frames in one thread ---
  const memory = want.has('memory')
    ? await measureHeap(bus, memoryFrames, progress)
    : { device: 'echo-n10', connector: 'in-process', frameSize: 64, frames: 0, heapBeforeBytes: 0, heapAfterBytes: 0, growthBytes: 0 };

  const report: BenchReport = {
    mode: custom ? 'custom' : quick ? 'quick' : 'full',
    machine: {
      node: process.version,
      cpus: os.availableParallelism?.() ?? os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      platform: `${os.platform()} ${os.arch()}`,
    },
    loadAverage: { start: loadStart, end: os.loadavg() },
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    seconds: (performance.now() - started) / 1000,
    reps,
    rows,
    latency,
    scale,
    memory,
    targets: [],
  };
  report.targets = checkTargets(report);
  return report;
}

/** Heap in use before and after `frames` frames in one thread (the heap target: flat over 10 M). */
async function measureHeap(bus: Bus, memoryFrames: number, progress: (m: string) => void): Promise<MemoryRow> {
  const gc = gcFunction();
  progress(`memory: warm-up`);
  await runInProcess(bus, streamJob('echo', 'echo-n10', 64, Math.min(memoryFrames, 100_000)));
  let before = 0;
  let after = 0;
  progress(`memory: ${memoryFrames.toLocaleString('en-US')} frames in-process`);
  const mr = await runInProcess(bus, streamJob('echo', 'echo-n10', 64, memoryFrames), (phase) => {
    gc();
    gc();
    if (phase === 'start') before = process.memoryUsage().heapUsed;
    else after = process.memoryUsage().heapUsed;
  });
  if (mr.error) throw new Error(`memory row failed: ${mr.error}`);
  return { device: 'echo-n10', connector: 'in-process', frameSize: 64, frames: memoryFrames, heapBeforeBytes: before, heapAfterBytes: after, growthBytes: after - before };
}

/** A latency row from each repetition's result (`undefined` or without latency: not measured), paired with that repetition's ping-pongs. */
function latencyRow(connector: string, job: LatencyJob, rs: Array<JobResult | undefined>, note: string, atomics: PingPongBaseline[], spin: PingPongBaseline[]): LatencyRow {
  const ok = rs.map((r, i) => ({ l: r?.latency, i })).filter((x) => x.l !== undefined) as Array<{ l: NonNullable<JobResult['latency']>; i: number }>;
  const error = rs.find((r) => r?.error)?.error;
  const base = { name: 'single-frame round trip (echo)', device: job.deviceName, connector, frameSize: job.size, samples: job.samples, reps: ok.length };
  if (ok.length === 0)
    return { ...base, p50Us: null, p99Us: null, p50Runs: null, ratioToAtomicsRtt: null, ratioToSpinRtt: null, measured: false, note: `not measured: ${error ?? 'no result'}` };
  const p50 = summarize(ok.map((x) => x.l.p50Us));
  return {
    ...base,
    p50Us: p50.median,
    p99Us: median(ok.map((x) => x.l.p99Us)),
    p50Runs: p50,
    ratioToAtomicsRtt: median(ok.map((x) => x.l.p50Us / atomics[x.i]!.p50Us)),
    ratioToSpinRtt: median(ok.map((x) => x.l.p50Us / spin[x.i]!.p50Us)),
    measured: true,
    note: error ? `${note}; ${rs.length - ok.length} repetition(s) failed: ${error}` : note,
  };
}

/** A row from a series of runs: medians, spread, and ratios paired per run with the baselines next to it. */
function seriesRow(section: BenchRow['section'], name: string, connector: string, job: Job, s: Series | undefined, postFps: number): BenchRow {
  const base = { section, name, device: job.deviceName, connector, frameSize: job.size };
  if (!s || s.runs.length === 0) return emptyRow({ ...base, measured: false, note: `not measured: ${s?.errors[0] ?? 'no result'}` });
  const fpsOf = (t: SignalTotals) => t.frames / t.seconds;
  const fps = summarize(s.runs.map(fpsOf));
  // signal counts from the run with the median rate (counts barely move between runs)
  const mid = s.runs.find((t) => fpsOf(t) === fps.median) ?? s.runs[0]!;
  const interrupts = mid.txCompleteInterrupts + mid.rxInterrupts + mid.eventInterrupts;
  const ratio = summarize(s.runs.map((t, i) => fpsOf(t) / s.ring[i]!.framesPerSec));
  const rbRatios = s.runs.flatMap((t, i) => (s.ringbuf[i] ? [fpsOf(t) / s.ringbuf[i]!.framesPerSec] : []));
  const notes: string[] = [];
  if (job.device === 'echo') notes.push('echo: every frame also comes back on rx');
  if (job.kind === 'stream' && !job.batching) notes.push('driver kicks every frame; suppressed kicks did not cross because the device was already running');
  if (mid.eventInterrupts > 0) notes.push(`${mid.eventInterrupts} event-queue interrupts included`);
  if (s.errors.length) notes.push(`${s.errors.length} run(s) failed: ${s.errors[0]}`);
  return emptyRow({
    ...base,
    frames: mid.frames,
    reps: s.runs.length,
    seconds: median(s.runs.map((t) => t.seconds)),
    framesPerSec: fps.median,
    framesPerSecRuns: fps,
    bitsPerSec: fps.median * job.size * 8,
    cpuUsPerFrame: median(s.runs.map((t) => t.cpuUs / t.frames)),
    kicks: mid.kicks,
    kicksSuppressed: mid.kicksSuppressed,
    kicksPerFrame: mid.kicks / mid.frames,
    txCompleteInterrupts: mid.txCompleteInterrupts,
    rxInterrupts: mid.rxInterrupts,
    interrupts,
    interruptsPerFrame: interrupts / mid.frames,
    ratioToRing: ratio.median,
    ratioToRingRuns: ratio,
    ratioToRingbuf: rbRatios.length ? median(rbRatios) : null,
    cpuRatioToRing: median(s.runs.map((t, i) => t.cpuUs / t.frames / (s.ring[i]!.cpuUs / s.ring[i]!.frames))),
    ratioToPostMessage: fps.median / postFps,
    note: notes.join('; '),
  });
}
