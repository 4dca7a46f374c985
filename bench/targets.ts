// The performance targets (issue 15 and the signal-economy targets before it), checked against one
// report. Every ratio is the report's paired median (see report.ts).
import type { BenchReport, BenchRow, TargetCheck } from './report.js';

function find(rows: BenchRow[], pred: (r: BenchRow) => boolean): BenchRow | undefined {
  return rows.find((r) => r.measured && pred(r));
}

const x = (v: number, digits = 3) => `${v.toFixed(digits)}x`;
const check = (target: string, v: number | null | undefined, ok: (v: number) => boolean, show: (v: number) => string = (n) => x(n)): TargetCheck =>
  v == null || Number.isNaN(v) ? { target, value: 'not measured', met: null } : { target, value: show(v), met: ok(v) };

/** The targets, checked against this report's figures. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const { rows } = report;
  const out: TargetCheck[] = [];
  const worker = (device: string, size: number) => find(rows, (r) => r.section === 'throughput' && r.connector === 'worker' && r.device === device && r.frameSize === size);
  const spread = (r: BenchRow | undefined) => (r?.ratioToRingRuns && r.reps > 1 ? ` (runs ${r.ratioToRingRuns.min.toFixed(3)} to ${r.ratioToRingRuns.max.toFixed(3)})` : '');
  for (const [device, label, goal] of [
    ['venet0', 'venet', 0.8],
    ['virtio-net0', 'virtio-net', 0.7],
    ['echo-stream', 'echo', 0.5],
  ] as const) {
    const r = worker(device, 64);
    out.push(
      check(
        `worker 64-byte ${label} stream >= ${goal}x hand-written ring`,
        r?.ratioToRing,
        (v) => v >= goal,
        (v) => x(v) + spread(r),
      ),
    );
  }
  for (const [device, label] of [
    ['venet0', 'venet'],
    ['virtio-net0', 'virtio-net'],
    ['echo-stream', 'echo'],
  ] as const) {
    const r = worker(device, 1500);
    out.push(
      check(
        `worker 1500-byte ${label} bits/s >= 0.8x hand-written ring`,
        r?.ratioToRing,
        (v) => v >= 0.8,
        (v) => x(v) + spread(r),
      ),
    );
  }
  for (const [device, label] of [
    ['venet0', 'venet'],
    ['virtio-net0', 'virtio-net'],
  ] as const) {
    const r = worker(device, 64);
    out.push(check(`worker 64-byte ${label} >= 2x ringbuf.js`, r?.ratioToRingbuf, (v) => v >= 2));
  }
  const venet = worker('venet0', 64);
  out.push(
    check(
      "worker 64-byte venet CPU/frame (all threads) <= 1.25x the ring's",
      venet?.cpuRatioToRing,
      (v) => v <= 1.25,
      (v) => `${x(v)} (${venet!.cpuUsPerFrame!.toFixed(3)} µs/frame)`,
    ),
  );
  const echo = worker('echo-stream', 64);
  out.push(
    check(
      'worker 64-byte frames >= 15x postMessage',
      echo?.ratioToPostMessage,
      (v) => v >= 15,
      (v) => x(v, 2),
    ),
  );
  for (const connector of ['in-process', 'worker']) {
    const steady = find(rows, (r) => r.connector === connector && r.name.startsWith('steady stream'));
    out.push(
      check(
        `${connector}: steady stream <= 0.01 kicks/frame`,
        steady?.kicksPerFrame,
        (v) => v <= 0.01,
        (v) => v.toFixed(4),
      ),
    );
    const stream = find(rows, (r) => r.connector === connector && r.section === 'throughput' && r.device === 'echo-stream' && r.frameSize === 64);
    out.push(
      check(
        `${connector}: free-running 64-byte stream <= 0.01 kicks/frame`,
        stream?.kicksPerFrame,
        (v) => v <= 0.01,
        (v) => v.toFixed(4),
      ),
    );
    const single = find(rows, (r) => r.connector === connector && r.name === 'single frame');
    out.push({
      target: `${connector}: single frame = 1 kick + 1 interrupt (tx-complete; rx echo counted separately)`,
      value: single ? `${single.kicks} kick, ${single.txCompleteInterrupts} tx-complete, ${single.rxInterrupts} rx` : 'not measured',
      met: single ? single.kicks === 1 && single.txCompleteInterrupts === 1 : null,
    });
    const burst = find(rows, (r) => r.connector === connector && r.name === 'burst of 100');
    out.push({
      target: `${connector}: burst of 100 = 1 kick, <= 10 tx-complete`,
      value: burst ? `${burst.kicks} kick, ${burst.txCompleteInterrupts} tx-complete` : 'not measured',
      met: burst ? burst.kicks === 1 && burst.txCompleteInterrupts! <= 10 : null,
    });
  }
  const lat = (connector: (c: string) => boolean) => report.latency.find((l) => l.measured && l.name.startsWith('single-frame') && connector(l.connector));
  // the in-process connector's lowest-latency mode decides; the default (microtask) delivery is shown beside it
  const inproc = lat((c) => c === 'in-process, direct delivery');
  const scheduled = lat((c) => c === 'in-process');
  out.push(
    check(
      'in-process single-frame echo round trip <= 1 µs (p50)',
      inproc?.p50Us,
      (v) => v <= 1,
      (v) => `${v.toFixed(2)} µs with direct delivery (${typeof scheduled?.p50Us === 'number' ? scheduled.p50Us.toFixed(2) + ' µs' : 'not measured'} through microtasks)`,
    ),
  );
  const adaptive = lat((c) => c.startsWith('worker, adaptive poll'));
  out.push(
    check(
      'worker single-frame round trip, adaptive polling <= 5x raw spin ping-pong (p50)',
      adaptive?.ratioToSpinRtt,
      (v) => v <= 5,
      (v) => `${x(v, 2)} (${adaptive!.p50Us!.toFixed(2)} µs)`,
    ),
  );
  const sleeping = lat((c) => c === 'worker, sleeping waits');
  out.push(
    check(
      'worker single-frame round trip, sleeping waits <= 1.25x raw Atomics ping-pong (p50)',
      sleeping?.ratioToAtomicsRtt,
      (v) => v <= 1.25,
      (v) => `${x(v, 2)} (${sleeping!.p50Us!.toFixed(1)} µs)`,
    ),
  );
  const eight = report.scale.find((s) => s.guests === 8);
  const lost = report.scale.filter((s) => s.delivered + s.dropped !== s.frames);
  out.push(
    check(
      '8 guests into one switch port: aggregate frames/s >= 0.9x one guest',
      eight?.ratioToOneGuest,
      (v) => v >= 0.9,
      (v) => `${x(v)} (${(eight!.framesPerSec / 1e6).toFixed(3)} M/s)`,
    ),
  );
  out.push({
    target: 'scale: every frame delivered or counted as dropped',
    value: report.scale.length
      ? lost.length
        ? `unaccounted frames with ${lost.map((s) => s.guests).join(', ')} guest(s)`
        : `${report.scale.reduce((s, r) => s + r.frames, 0).toLocaleString('en-US')} frames accounted for`
      : 'not measured',
    met: report.scale.length ? lost.length === 0 : null,
  });
  const m = report.memory;
  out.push({
    target: 'heap growth over 10M frames < 1 MB',
    value: `${m.growthBytes.toLocaleString('en-US')} bytes over ${m.frames.toLocaleString('en-US')} frames`,
    met: m.frames >= 10_000_000 ? m.growthBytes < 1 << 20 : null,
  });
  return out;
}

/** One line per target, for the end of the output: `met`, `MISSED` or `n/a`, the target, the value. */
export function verdictLines(targets: TargetCheck[]): string {
  return targets.map((t) => `${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${t.value}`).join('\n');
}
