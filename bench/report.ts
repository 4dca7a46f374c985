// The shape of a bench report (what `--json` writes and `--compare` reads).
import type { Summary } from './stats.js';

/**
 * One throughput or signal-count row. Repeated rows give the median of their runs and the spread
 * (lowest and highest); a ratio is the median of per-repetition ratios, each taken against the
 * baseline run next to it (paired), not a ratio of medians. Figures that do not apply are null.
 */
export interface BenchRow {
  section: 'baseline' | 'throughput' | 'signals';
  name: string;
  device: string;
  connector: string;
  frameSize: number;
  /** Frames per run. */
  frames: number;
  /** Runs that went into the row. */
  reps: number;
  seconds: number | null;
  framesPerSec: number | null;
  /** frames/s over every run: median, min, max, and each run. */
  framesPerSecRuns: Summary | null;
  bitsPerSec: number | null;
  /** Process CPU time (every thread) per frame, µs: the median over runs. */
  cpuUsPerFrame: number | null;
  kicks: number | null;
  kicksSuppressed: number | null;
  kicksPerFrame: number | null;
  txCompleteInterrupts: number | null;
  rxInterrupts: number | null;
  interrupts: number | null;
  interruptsPerFrame: number | null;
  /** frames/s against the hand-written ring (paired per repetition). */
  ratioToRing: number | null;
  ratioToRingRuns: Summary | null;
  /** frames/s against ringbuf.js (paired per repetition). */
  ratioToRingbuf: number | null;
  /** CPU per frame against the hand-written ring's (paired per repetition). */
  cpuRatioToRing: number | null;
  ratioToPostMessage: number | null;
  measured: boolean;
  note: string;
}

export interface LatencyRow {
  name: string;
  device: string;
  connector: string;
  frameSize: number;
  /** Samples per repetition. */
  samples: number;
  reps: number;
  /** Median over repetitions of each repetition's p50 (and p99). */
  p50Us: number | null;
  p99Us: number | null;
  p50Runs: Summary | null;
  /** Paired per repetition against the raw ping-pongs of the same repetition. */
  ratioToAtomicsRtt: number | null;
  ratioToSpinRtt: number | null;
  measured: boolean;
  note: string;
}

export interface ScaleRow {
  guests: number;
  frameSize: number;
  reps: number;
  /** Frames the guests sent, delivered to the sink, and counted as dropped: summed over repetitions. */
  frames: number;
  delivered: number;
  dropped: number;
  /** Median seconds of a repetition. */
  seconds: number;
  /** Delivered frames per second, all guests together: median over repetitions. */
  framesPerSec: number;
  framesPerSecRuns: Summary;
  /** Aggregate frames/s against one guest's, paired per repetition. */
  ratioToOneGuest: number;
  /** Process CPU time (every thread) per delivered frame, µs (median). */
  cpuUsPerFrame: number;
  kicksPerFrame: number;
  interruptsPerFrame: number;
}

export interface MemoryRow {
  device: string;
  connector: string;
  frameSize: number;
  frames: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  growthBytes: number;
}

export interface TargetCheck {
  target: string;
  value: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

export interface BenchReport {
  mode: 'quick' | 'full' | 'custom';
  machine: { node: string; cpus: number; cpuModel: string; platform: string };
  /** os.loadavg() (1, 5, 15 minutes) when the run started and when it ended. */
  loadAverage: { start: number[]; end: number[] };
  startedAt: string;
  seconds: number;
  /** Repetitions of the paired throughput rows and of the latency rows. */
  reps: number;
  rows: BenchRow[];
  latency: LatencyRow[];
  /** 1, 2, 4 and 8 guests (worker threads, a venet NIC each) streaming into one switch. */
  scale: ScaleRow[];
  memory: MemoryRow;
  targets: TargetCheck[];
}

export function emptyRow(partial: Partial<BenchRow> & Pick<BenchRow, 'section' | 'name' | 'device' | 'connector' | 'frameSize'>): BenchRow {
  return {
    frames: 0,
    reps: 0,
    seconds: null,
    framesPerSec: null,
    framesPerSecRuns: null,
    bitsPerSec: null,
    cpuUsPerFrame: null,
    kicks: null,
    kicksSuppressed: null,
    kicksPerFrame: null,
    txCompleteInterrupts: null,
    rxInterrupts: null,
    interrupts: null,
    interruptsPerFrame: null,
    ratioToRing: null,
    ratioToRingRuns: null,
    ratioToRingbuf: null,
    cpuRatioToRing: null,
    ratioToPostMessage: null,
    measured: true,
    note: '',
    ...partial,
  };
}
