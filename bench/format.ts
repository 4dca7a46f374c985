// Text table and SVG chart of a bench report.
import type { BenchReport, BenchRow } from './report.js';
import { verdictLines } from './targets.js';

function fmt(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '-';
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(digits)} G`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(digits)} M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 1) return n.toFixed(digits);
  return n.toFixed(4);
}

function align(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The tables; `targets: false` leaves out the closing verdict lines (the CLI prints them last). */
export function formatTable(report: BenchReport, opts: { targets?: boolean } = {}): string {
  const out: string[] = [];
  const head = [
    'row',
    'device',
    'connector',
    'bytes',
    'frames',
    'runs',
    'frames/s',
    'min..max',
    'bits/s',
    'CPU µs/frame',
    'kicks/frame',
    'irq/frame',
    'kicks',
    'tx-compl',
    'rx irq',
    'x ring',
    'x ring min..max',
    'x ringbuf',
    'CPU x ring',
    'x postMsg',
  ];
  const range = (s: { min: number; max: number } | null, digits = 2, scale = 1) =>
    s && Number.isFinite(s.min) ? `${(s.min / scale).toFixed(digits)}..${(s.max / scale).toFixed(digits)}` : '-';
  const rowCells = (r: BenchRow) =>
    r.measured
      ? [
          r.name,
          r.device,
          r.connector,
          String(r.frameSize),
          fmt(r.frames),
          String(r.reps),
          fmt(r.framesPerSec),
          r.reps > 1 ? range(r.framesPerSecRuns, 2, 1e6) + ' M' : '-',
          fmt(r.bitsPerSec),
          fmt(r.cpuUsPerFrame, 3),
          fmt(r.kicksPerFrame),
          fmt(r.interruptsPerFrame),
          fmt(r.kicks),
          fmt(r.txCompleteInterrupts),
          fmt(r.rxInterrupts),
          fmt(r.ratioToRing, 3),
          r.reps > 1 ? range(r.ratioToRingRuns, 3) : '-',
          fmt(r.ratioToRingbuf, 2),
          fmt(r.cpuRatioToRing, 2),
          fmt(r.ratioToPostMessage),
        ]
      : [r.name, r.device, r.connector, String(r.frameSize), r.note, ...head.slice(5).map(() => '')];
  for (const section of ['baseline', 'throughput', 'signals'] as const) {
    out.push(
      `\n${section === 'baseline' ? 'Baselines (same run, main thread + one worker)' : section === 'throughput' ? 'Bus throughput (frames one way into the device)' : 'Signal counts'}`,
    );
    out.push(align([head, ...report.rows.filter((r) => r.section === section).map(rowCells)]));
  }
  out.push('\nRound-trip latency (µs)');
  out.push(
    align([
      ['row', 'device', 'connector', 'samples', 'runs', 'p50 µs', 'p50 min..max', 'p99 µs', 'x atomics rtt', 'x spin rtt'],
      ...report.latency.map((l) => [
        l.name,
        l.device,
        l.connector,
        String(l.samples),
        String(l.reps),
        fmt(l.p50Us),
        l.reps > 1 ? range(l.p50Runs) : '-',
        fmt(l.p99Us),
        fmt(l.ratioToAtomicsRtt),
        fmt(l.ratioToSpinRtt),
      ]),
    ]),
  );
  out.push('\nScale: guests (worker threads, one venet NIC each) streaming 64-byte frames into one switch port at once');
  out.push(
    align([
      ['guests', 'runs', 'frames', 'delivered', 'dropped', 'frames/s (all)', 'min..max', 'x 1 guest', 'CPU µs/frame (all threads)', 'kicks/frame', 'irq/frame'],
      ...report.scale.map((r) => [
        String(r.guests),
        String(r.reps),
        fmt(r.frames),
        fmt(r.delivered),
        fmt(r.dropped),
        fmt(r.framesPerSec),
        r.reps > 1 ? range(r.framesPerSecRuns, 3, 1e6) + ' M' : '-',
        fmt(r.ratioToOneGuest, 3),
        fmt(r.cpuUsPerFrame),
        fmt(r.kicksPerFrame),
        fmt(r.interruptsPerFrame),
      ]),
    ]),
  );
  const m = report.memory;
  out.push(
    `\nMemory: heap ${fmt(m.heapBeforeBytes)}B before, ${fmt(m.heapAfterBytes)}B after ${m.frames.toLocaleString('en-US')} frames (${m.device}, ${m.connector}): growth ${m.growthBytes.toLocaleString('en-US')} bytes`,
  );
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  out.push(
    `\n${report.mode} run, ${report.reps} repetition(s), ${report.seconds.toFixed(1)} s, Node ${report.machine.node}, ${report.machine.cpus} cores (${report.machine.cpuModel}), load average ${load(report.loadAverage.start)} at start, ${load(report.loadAverage.end)} at end`,
  );
  if (opts.targets !== false) out.push('\nTargets', verdictLines(report.targets));
  return out.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A plain SVG: one bar chart of frames/s, one of kicks + interrupts per frame (log scale). */
export function formatSvg(report: BenchReport): string {
  const rows = report.rows.filter((r) => r.measured && r.framesPerSec !== null && r.section !== 'signals');
  const sig = report.rows.filter((r) => r.measured && r.section !== 'baseline' && r.kicksPerFrame !== null);
  const labelW = 430;
  const barW = 420;
  const rowH = 18;
  const top = 40;
  const h1 = rows.length * rowH;
  const top2 = top + h1 + 60;
  const h2 = sig.length * rowH;
  const height = top2 + h2 + 40;
  const width = labelW + barW + 140;
  const max = Math.max(...rows.map((r) => r.framesPerSec!), 1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">vbus-ts bench (${report.mode}, Node ${esc(report.machine.node)}, ${report.machine.cpus} cores): frames/s</text>`,
  );
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (r.framesPerSec! / max) * barW);
    const color = r.section === 'baseline' ? '#888' : r.connector === 'worker' ? '#2a6fb0' : '#4ca64c';
    parts.push(`<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(`${r.name} · ${r.connector} · ${r.frameSize} B`)}</text>`);
    parts.push(`<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${color}"/>`);
    parts.push(`<text x="${labelW + w + 4}" y="${y + 13}">${(r.framesPerSec! / 1e6).toFixed(3)} M/s</text>`);
  });
  parts.push(`<text x="10" y="${top2 - 18}" font-size="15" font-weight="bold">signals per frame (kicks red, interrupts orange; log scale, 1e-5 .. 10)</text>`);
  const logW = (v: number) => (v <= 0 ? 0 : Math.max(1, ((Math.log10(v) + 5) / 6) * barW));
  sig.forEach((r, i) => {
    const y = top2 + i * rowH;
    const k = logW(r.kicksPerFrame!);
    const q = logW(r.interruptsPerFrame!);
    parts.push(`<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(`${r.name} · ${r.connector} · ${r.frameSize} B`)}</text>`);
    parts.push(`<rect x="${labelW}" y="${y + 2}" width="${k.toFixed(1)}" height="${(rowH - 4) / 2}" fill="#c0392b"/>`);
    parts.push(`<rect x="${labelW}" y="${y + 2 + (rowH - 4) / 2}" width="${q.toFixed(1)}" height="${(rowH - 4) / 2}" fill="#e67e22"/>`);
    parts.push(`<text x="${labelW + Math.max(k, q) + 4}" y="${y + 13}">${r.kicksPerFrame!.toFixed(4)} / ${r.interruptsPerFrame!.toFixed(4)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
