// Renders the demo's state into the page: counters table, pings, phases, and an SVG chart of
// signals per frame (and frames per second) over time. Plain strings into innerHTML: numbers and
// names the page chose, and the Linux guest's console escaped.
import type { NicCounters } from './counters.js';

/** Everything the demo knows; also what a test reads from `globalThis.vbusDemo`. */
export interface DemoState {
  step: string;
  started: number;
  /** The stream window in force (0 before streaming). */
  window: number;
  pings: Array<{ from: string; to: string; rtts: number[] }>;
  phases: Array<{
    window: number;
    sent: number;
    echoed: number;
    ms: number;
    lost: number;
    drops: number;
    devices: Record<string, NicCounters>;
    /** The guest drivers' own counts: frames, kicks sent and suppressed, interrupts taken. */
    guestFrames: Record<string, { tx: number; rx: number; kicks: number; kicksSuppressed: number; interrupts: number }>;
    signalsPerFrame: number;
  }>;
  samples: Array<{ t: number; window: number; framesPerSec: number; signalsPerFrame: number }>;
  counters: Record<string, NicCounters>;
  lastSample?: { t: number; counters: Record<string, NicCounters> };
  failures: string[];
  error?: string;
  /** All load steps are done (the Linux guest, if any, comes after). */
  phasesDone?: boolean;
  /** The Linux guest in v86 (with `?v86` in the page's address). */
  v86?: {
    bootMs: number;
    pingsToLinux: Array<{ from: string; rtts: number[] }>;
    console: string;
    port: { txFrames: number; rxFrames: number; drops: number };
    malformed: number;
  };
}

interface Element {
  innerHTML: string;
  textContent: string;
}
const doc = (globalThis as unknown as { document?: { getElementById(id: string): Element | null } }).document;

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function set(id: string, html: string): void {
  const el = doc?.getElementById(id);
  if (el) el.innerHTML = html;
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const cell = (v: string | number, tag: string) => `<${tag}>${typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 3) : v}</${tag}>`;
  return `<table><tr>${head.map((h) => cell(h, 'th')).join('')}</tr>${rows.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('')}</table>`;
}

/** The chart: signals per frame (left axis) and frames per second (right axis) against time. */
function chart(samples: DemoState['samples']): string {
  const W = 720;
  const H = 240;
  const pad = { l: 48, r: 64, t: 12, b: 28 };
  if (samples.length < 2) return `<svg width="${W}" height="${H}"></svg>`;
  const t0 = samples[0]!.t;
  const t1 = samples.at(-1)!.t;
  const maxSpf = Math.max(1, ...samples.map((s) => s.signalsPerFrame));
  const maxFps = Math.max(1, ...samples.map((s) => s.framesPerSec));
  const x = (t: number) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
  const yL = (v: number) => H - pad.b - (v / maxSpf) * (H - pad.t - pad.b);
  const yR = (v: number) => H - pad.b - (v / maxFps) * (H - pad.t - pad.b);
  const line = (f: (s: DemoState['samples'][0]) => number) => samples.map((s) => `${x(s.t).toFixed(1)},${f(s).toFixed(1)}`).join(' ');
  // a band and a label per window size
  const bands: string[] = [];
  let start = 0;
  for (let i = 1; i <= samples.length; i++) {
    if (i < samples.length && samples[i]!.window === samples[start]!.window) continue;
    const x0 = x(samples[start]!.t);
    const x1 = x(samples[i - 1]!.t);
    const w = samples[start]!.window;
    bands.push(`<rect x="${x0}" y="${pad.t}" width="${Math.max(1, x1 - x0)}" height="${H - pad.t - pad.b}" fill="${bands.length % 2 ? '#f3f3f8' : '#e8eef8'}"/>`);
    bands.push(`<text x="${(x0 + x1) / 2}" y="${H - 10}" font-size="11" text-anchor="middle">${w === 0 ? 'ping' : `window ${w}`}</text>`);
    start = i;
  }
  return `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">
${bands.join('\n')}
<polyline fill="none" stroke="#999" stroke-width="1.5" stroke-dasharray="4 3" points="${line((s) => yR(s.framesPerSec))}"/>
<polyline fill="none" stroke="#c0392b" stroke-width="2" points="${line((s) => yL(s.signalsPerFrame))}"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>
<line x1="${W - pad.r}" y1="${pad.t}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>
<text x="${pad.l - 6}" y="${pad.t + 10}" font-size="11" text-anchor="end">${fmt(maxSpf, 2)}</text>
<text x="${pad.l - 6}" y="${H - pad.b}" font-size="11" text-anchor="end">0</text>
<text x="${W - pad.r + 6}" y="${pad.t + 10}" font-size="11">${fmt(maxFps / 1000, 0)}k/s</text>
<text x="${W - pad.r + 6}" y="${H - pad.b}" font-size="11">0</text>
<text x="${pad.l + 8}" y="${pad.t + 14}" font-size="12" fill="#c0392b">signals per frame</text>
<text x="${W - pad.r - 8}" y="${pad.t + 14}" font-size="12" fill="#777" text-anchor="end">frames per second</text>
</svg>`;
}

/** Put the state on the page. */
export function render(s: DemoState): void {
  set('step', s.error ? `error: ${s.error}` : s.step);
  set(
    'counters',
    table(
      ['device', 'tx frames', 'rx frames', 'drops', 'kicks in', 'interrupts out', 'interrupts suppressed', 'signals/frame'],
      Object.entries(s.counters).map(([name, c]) => [
        name,
        c.txFrames,
        c.rxFrames,
        c.drops,
        c.kicks,
        c.interrupts,
        c.suppressed,
        (c.kicks + c.interrupts) / Math.max(1, c.txFrames + c.rxFrames),
      ]),
    ),
  );
  set('pings', s.pings.map((p) => `${p.from} → ${p.to}: ${p.rtts.map((r) => r.toFixed(3)).join(', ')} ms`).join('<br>'));
  set(
    'phases',
    table(
      ['window', 'frames sent', 'echoed', 'ms', 'frames/s', 'kicks sent', 'kicks suppressed', 'interrupts sent', 'interrupts suppressed', 'signals/frame', 'drops', 'lost'],
      s.phases.map((p) => {
        const guests = Object.values(p.guestFrames);
        const devices = Object.values(p.devices);
        const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);
        return [
          p.window,
          p.sent,
          p.echoed,
          Math.round(p.ms),
          Math.round((p.sent / p.ms) * 1000),
          sum(guests, (g) => g.kicks),
          sum(guests, (g) => g.kicksSuppressed),
          sum(devices, (d) => d.interrupts),
          sum(devices, (d) => d.suppressed),
          p.signalsPerFrame,
          p.drops,
          p.lost,
        ];
      }),
    ),
  );
  set('chart', chart(s.samples));
  set('failures', s.failures.join('<br>'));
  if (s.v86) {
    const v = s.v86;
    set(
      'v86',
      `<p>booted to eth0 up in ${(v.bootMs / 1000).toFixed(1)} s; its switch port: ${fmt(v.port.txFrames)} frames out, ${fmt(v.port.rxFrames)} in, ${fmt(v.port.drops)} dropped</p>` +
        v.pingsToLinux.map((p) => `${p.from} → Linux: ${p.rtts.map((r) => r.toFixed(2)).join(', ')} ms`).join('<br>'),
    );
    // the console's last lines; escaped, the guest writes it
    const esc = v.console
      .split('\n')
      .slice(-24)
      .join('\n')
      .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
    set('v86console', esc);
  }
}
