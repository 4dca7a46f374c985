import { describe, expect, it } from 'vitest';
import { runBench, type BenchRow, type LatencyRow } from '../bench/run.js';

const ROW_FIELDS: Array<keyof BenchRow> = [
  'section', 'name', 'device', 'connector', 'frameSize', 'frames', 'seconds', 'framesPerSec', 'bitsPerSec', 'kicks', 'kicksSuppressed', 'kicksPerFrame',
  'txCompleteInterrupts', 'rxInterrupts', 'interrupts', 'interruptsPerFrame', 'ratioToRing', 'ratioToPostMessage', 'measured', 'note',
];
const LATENCY_FIELDS: Array<keyof LatencyRow> = ['name', 'device', 'connector', 'frameSize', 'samples', 'p50Us', 'p99Us', 'ratioToAtomicsRtt', 'ratioToSpinRtt', 'measured', 'note'];

// Shape only: speeds depend on the machine and are never asserted here.
describe('npm run bench (small --frames)', () => {
  it('reports every field for every row, as JSON', async () => {
    const progress: string[] = [];
    const report = JSON.parse(JSON.stringify(await runBench({ frames: 2000, onProgress: (m) => progress.push(m) })));
    expect(progress.length).toBeGreaterThan(5);
    expect(report.mode).toBe('custom');
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.rows.length).toBeGreaterThan(10);
    for (const row of report.rows) {
      for (const f of ROW_FIELDS) expect(row, `${row.name} / ${row.connector}: ${f}`).toHaveProperty(f);
      if (!row.measured) {
        expect(row.note).toMatch(/^not measured: /);
        continue;
      }
      for (const f of ['frames', 'framesPerSec', 'bitsPerSec', 'kicksPerFrame', 'ratioToRing', 'ratioToPostMessage'] as const) expect(typeof row[f], `${row.name} / ${row.connector}: ${f}`).toBe('number');
      if (row.section !== 'baseline') expect(typeof row.interruptsPerFrame, `${row.name} / ${row.connector}`).toBe('number');
    }
    for (const connector of ['in-process', 'worker']) {
      for (const size of [64, 1500]) expect(report.rows.some((r: BenchRow) => r.section === 'throughput' && r.connector === connector && r.device.startsWith('echo') && r.frameSize === size && r.measured)).toBe(true);
      for (const name of ['single frame', 'burst of 100']) expect(report.rows.some((r: BenchRow) => r.connector === connector && r.name === name && r.measured)).toBe(true);
      expect(report.rows.filter((r: BenchRow) => r.connector === connector && r.name.startsWith('tx-complete mitigation'))).toHaveLength(3);
    }
    // virtio-net (and venet, if its driver is missing) appear as labelled unmeasured rows, never as numbers
    expect(report.rows.some((r: BenchRow) => r.device === 'virtio-net' || r.device.startsWith('venet'))).toBe(true);
    // raw Atomics and spin ping-pongs, echo in-process and over the worker, and the worker with
    // sleeping waits and with adaptive polling
    expect(report.latency.map((l: { connector: string }) => l.connector)).toEqual(
      expect.arrayContaining(['in-process', 'worker', 'worker, sleeping waits', expect.stringMatching(/^worker, adaptive poll \d+ µs$/)]),
    );
    expect(report.latency.length).toBe(6);
    for (const l of report.latency) expect(l.measured, `${l.name} / ${l.connector}`).toBe(true);
    for (const l of report.latency) for (const f of LATENCY_FIELDS) expect(l, `${l.name}: ${f}`).toHaveProperty(f);
    expect(report.scale.map((r: { guests: number }) => r.guests)).toEqual([1, 2, 4, 8]);
    for (const r of report.scale) {
      for (const f of ['frames', 'delivered', 'dropped', 'seconds', 'framesPerSec', 'cpuUsPerFrame', 'kicksPerFrame', 'interruptsPerFrame']) expect(typeof r[f], `scale ${r.guests}: ${f}`).toBe('number');
      // every frame a guest sent reached the sink or was counted as dropped
      expect(r.delivered + r.dropped, `scale ${r.guests}`).toBe(r.frames);
    }
    expect(report.memory).toMatchObject({ frames: 2000 });
    for (const f of ['heapBeforeBytes', 'heapAfterBytes', 'growthBytes']) expect(typeof report.memory[f]).toBe('number');
    expect(report.targets.length).toBeGreaterThan(5);
  }, 90_000);
});
