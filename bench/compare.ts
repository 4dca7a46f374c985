// `--compare FILE`: this run against an earlier report (the regression view). Rows are matched by
// section, name, connector and frame size; changes are relative to the earlier figure.
import type { BenchReport, BenchRow } from './report.js';

function pct(now: number | null | undefined, then: number | null | undefined): string {
  if (now == null || then == null || !Number.isFinite(now) || !Number.isFinite(then) || then === 0) return '-';
  const d = (now / then - 1) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

const n = (v: number | null | undefined, digits = 3) => (v == null || !Number.isFinite(v) ? '-' : Math.abs(v) >= 1e4 ? `${(v / 1e6).toFixed(digits)} M` : v.toFixed(digits));

function align(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const key = (r: Pick<BenchRow, 'section' | 'name' | 'connector' | 'frameSize'>) => `${r.section}|${r.name}|${r.connector}|${r.frameSize}`;

/** A text report of what changed between `before` (an earlier JSON) and `now`. */
export function formatComparison(now: BenchReport, before: BenchReport, beforeLabel: string): string {
  const out: string[] = [];
  const load = (r: BenchReport) =>
    r.loadAverage ? `load ${r.loadAverage.start.map((v) => v.toFixed(2)).join('/')} -> ${r.loadAverage.end.map((v) => v.toFixed(2)).join('/')}` : 'load not recorded';
  out.push(`\nCompared with ${beforeLabel} (${before.mode} run of ${before.startedAt}, ${load(before)}); this run: ${load(now)}`);
  const old = new Map(before.rows.map((r) => [key(r), r]));
  const rows: string[][] = [['row', 'connector', 'bytes', 'frames/s then', 'frames/s now', 'change', 'x ring then', 'x ring now', 'CPU µs/frame then', 'now', 'change']];
  for (const r of now.rows) {
    const o = old.get(key(r));
    if (!o || !r.measured) continue;
    rows.push([
      r.name,
      r.connector,
      String(r.frameSize),
      n(o.framesPerSec),
      n(r.framesPerSec),
      pct(r.framesPerSec, o.framesPerSec),
      n(o.ratioToRing),
      n(r.ratioToRing),
      n(o.cpuUsPerFrame),
      n(r.cpuUsPerFrame),
      pct(r.cpuUsPerFrame, o.cpuUsPerFrame),
    ]);
  }
  out.push(align(rows));
  const oldLat = new Map(before.latency.map((l) => [`${l.name}|${l.connector}`, l]));
  const lat: string[][] = [['latency row', 'connector', 'p50 µs then', 'p50 µs now', 'change']];
  for (const l of now.latency) {
    const o = oldLat.get(`${l.name}|${l.connector}`);
    if (o) lat.push([l.name, l.connector, n(o.p50Us), n(l.p50Us), pct(l.p50Us, o.p50Us)]);
  }
  out.push('', align(lat));
  const oldScale = new Map(before.scale.map((s) => [s.guests, s]));
  const sc: string[][] = [['guests', '', 'frames/s then', 'frames/s now', 'change']];
  for (const s of now.scale) {
    const o = oldScale.get(s.guests);
    if (o) sc.push([String(s.guests), '', n(o.framesPerSec), n(s.framesPerSec), pct(s.framesPerSec, o.framesPerSec)]);
  }
  out.push('', align(sc));
  const oldT = new Map(before.targets.map((t) => [t.target, t]));
  const verdict = (m: boolean | null | undefined) => (m == null ? 'n/a' : m ? 'met' : 'missed');
  const tg: string[][] = [['target', 'then', 'now']];
  for (const t of now.targets) {
    const o = oldT.get(t.target);
    tg.push([t.target, o ? `${verdict(o.met)} (${o.value})` : 'not in the earlier run', `${verdict(t.met)} (${t.value})`]);
  }
  out.push('', align(tg));
  return out.join('\n');
}
