import { describe, expect, it } from 'vitest';
import { runBench, type BenchReport, type BenchRow, type LatencyRow } from '../bench/run.js';
import { formatComparison } from '../bench/compare.js';
import { formatTable } from '../bench/format.js';

const ROW_FIELDS: Array<keyof BenchRow> = [
  'section',
  'name',
  'device',
  'connector',
  'frameSize',
  'frames',
  'reps',
  'seconds',
  'framesPerSec',
  'framesPerSecRuns',
  'bitsPerSec',
  'cpuUsPerFrame',
  'kicks',
  'kicksSuppressed',
  'kicksPerFrame',
  'txCompleteInterrupts',
  'rxInterrupts',
  'interrupts',
  'interruptsPerFrame',
  'ratioToRing',
  'ratioToRingRuns',
  'ratioToRingbuf',
  'cpuRatioToRing',
  'ratioToPostMessage',
  'measured',
  'note',
];
const LATENCY_FIELDS: Array<keyof LatencyRow> = [
  'name',
  'device',
  'connector',
  'frameSize',
  'samples',
  'reps',
  'p50Us',
  'p99Us',
  'p50Runs',
  'ratioToAtomicsRtt',
  'ratioToSpinRtt',
  'measured',
  'note',
];

// Shape only: speeds depend on the machine and are never asserted here.
describe('npm run bench (small --frames)', () => {
  it('reports every field for every row, as JSON', async () => {
    const progress: string[] = [];
    // two repetitions: the paired ratios and the spreads are built from more than one run
    const report = JSON.parse(JSON.stringify(await runBench({ frames: 2000, reps: 2, onProgress: (m) => progress.push(m) }))) as BenchReport;
    expect(progress.length).toBeGreaterThan(5);
    expect(report.mode).toBe('custom');
    expect(report.reps).toBe(2);
    expect(report.machine.cpus).toBeGreaterThan(0);
    for (const l of [report.loadAverage.start, report.loadAverage.end]) expect(l).toHaveLength(3);
    expect(report.rows.length).toBeGreaterThan(10);
    for (const row of report.rows) {
      for (const f of ROW_FIELDS) expect(row, `${row.name} / ${row.connector}: ${f}`).toHaveProperty(f);
      if (!row.measured) {
        expect(row.note).toMatch(/^not measured: /);
        continue;
      }
      for (const f of ['frames', 'framesPerSec', 'bitsPerSec', 'cpuUsPerFrame', 'ratioToRing', 'ratioToPostMessage'] as const)
        expect(typeof row[f], `${row.name} / ${row.connector}: ${f}`).toBe('number');
      expect(row.cpuUsPerFrame!, `${row.name} / ${row.connector}: CPU per frame`).toBeGreaterThan(0);
      if (row.section !== 'baseline')
        for (const f of ['interruptsPerFrame', 'kicksPerFrame', 'cpuRatioToRing'] as const) expect(typeof row[f], `${row.name} / ${row.connector}: ${f}`).toBe('number');
    }
    // the paired throughput rows ran once per repetition, and their spread brackets their median
    for (const row of report.rows.filter((r) => r.section === 'throughput' && (r.name.includes('stream,') || r.name.startsWith('virtio-net stream')))) {
      expect(row.reps, `${row.name} / ${row.connector} / ${row.frameSize}`).toBe(2);
      expect(row.framesPerSecRuns!.runs).toHaveLength(2);
      expect(row.framesPerSecRuns!.min).toBeLessThanOrEqual(row.framesPerSec!);
      expect(row.framesPerSecRuns!.max).toBeGreaterThanOrEqual(row.framesPerSec!);
      if (row.connector === 'worker') expect(typeof row.ratioToRingbuf).toBe('number');
    }
    for (const size of [64, 1500]) {
      expect(report.rows.find((r) => r.name === 'hand-written SPSC ring' && r.frameSize === size)?.reps).toBe(6); // one before each of 3 devices, per repetition
      expect(report.rows.find((r) => r.name.startsWith('ringbuf.js') && r.frameSize === size)?.reps).toBe(2);
    }
    for (const connector of ['in-process', 'worker']) {
      for (const size of [64, 1500])
        expect(
          report.rows.some((r: BenchRow) => r.section === 'throughput' && r.connector === connector && r.device.startsWith('echo') && r.frameSize === size && r.measured),
        ).toBe(true);
      for (const name of ['single frame', 'burst of 100']) expect(report.rows.some((r: BenchRow) => r.connector === connector && r.name === name && r.measured)).toBe(true);
      expect(report.rows.filter((r: BenchRow) => r.connector === connector && r.name.startsWith('tx-complete mitigation'))).toHaveLength(3);
    }
    // virtio-net (and venet, if its driver is missing) appear as labelled unmeasured rows, never as numbers
    expect(report.rows.some((r: BenchRow) => r.device === 'virtio-net' || r.device.startsWith('venet'))).toBe(true);
    // raw Atomics and spin ping-pongs, echo in-process (microtask and direct delivery) and over
    // the worker, and the worker with sleeping waits and with adaptive polling
    expect(report.latency.map((l: { connector: string }) => l.connector)).toEqual(
      expect.arrayContaining(['in-process', 'in-process, direct delivery', 'worker', 'worker, sleeping waits', expect.stringMatching(/^worker, adaptive poll \d+ µs$/)]),
    );
    expect(report.latency.length).toBe(7);
    for (const l of report.latency) expect(l.reps, `${l.name} / ${l.connector}`).toBe(2);
    for (const l of report.latency) expect(l.measured, `${l.name} / ${l.connector}`).toBe(true);
    for (const l of report.latency) for (const f of LATENCY_FIELDS) expect(l, `${l.name}: ${f}`).toHaveProperty(f);
    expect(report.scale.map((r: { guests: number }) => r.guests)).toEqual([1, 2, 4, 8]);
    for (const r of report.scale) {
      for (const f of ['frames', 'delivered', 'dropped', 'seconds', 'framesPerSec', 'ratioToOneGuest', 'cpuUsPerFrame', 'kicksPerFrame', 'interruptsPerFrame'] as const)
        expect(typeof r[f], `scale ${r.guests}: ${f}`).toBe('number');
      // every frame a guest sent reached the sink or was counted as dropped
      expect(r.delivered + r.dropped, `scale ${r.guests}`).toBe(r.frames);
    }
    expect(report.memory).toMatchObject({ frames: 2000 });
    for (const f of ['heapBeforeBytes', 'heapAfterBytes', 'growthBytes'] as const) expect(typeof report.memory[f]).toBe('number');
    // every target of issue 15 gets a verdict line; the heap target needs 10 M frames, so here it is n/a
    const targets = new Map(report.targets.map((t) => [t.target, t]));
    for (const t of [
      'worker 64-byte venet stream >= 0.8x hand-written ring',
      'worker 64-byte virtio-net stream >= 0.7x hand-written ring',
      'worker 64-byte echo stream >= 0.5x hand-written ring',
      'worker 1500-byte venet bits/s >= 0.8x hand-written ring',
      'worker 64-byte venet >= 2x ringbuf.js',
      "worker 64-byte venet CPU/frame (all threads) <= 1.25x the ring's",
      'in-process single-frame echo round trip <= 1 µs (p50)',
      'worker single-frame round trip, adaptive polling <= 5x raw spin ping-pong (p50)',
      'worker single-frame round trip, sleeping waits <= 1.25x raw Atomics ping-pong (p50)',
      '8 guests into one switch port: aggregate frames/s >= 0.9x one guest',
    ])
      expect(typeof targets.get(t)?.met, t).toBe('boolean');
    expect(targets.get('scale: every frame delivered or counted as dropped')?.met).toBe(true);
    expect(targets.get('heap growth over 10M frames < 1 MB')?.met).toBeNull();
    const table = formatTable(report);
    expect(
      table
        .trimEnd()
        .split('\n')
        .slice(-report.targets.length)
        .every((l) => /^(met|MISSED|n\/a) /.test(l)),
    ).toBe(true);
    // --compare against itself: every matched row unchanged
    const cmp = formatComparison(report, report, 'self.json');
    expect(cmp).toContain('Compared with self.json');
    expect(cmp).toMatch(/hand-written SPSC ring .* \+0\.0%/);
    expect(cmp).not.toMatch(/[+-][1-9]\d*\.\d%/);
  }, 300_000);
});
