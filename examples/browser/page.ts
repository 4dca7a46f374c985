// The page: a bus with a venet and a virtio-net device on one learning switch, and two guests in
// Web Workers driving them. The guests ping each other, then one streams UDP to the other's echo
// port under a growing window (from ping-pong to batches); the page shows live frame and signal
// counters and a chart of signals per frame as the load changes, and checks that every frame was
// delivered or counted as dropped. The outcome is also left on `globalThis.vbusDemo` for tests.
import { createVbus } from '@vbus/core';
import { WebWorkerConnector, type WebWorkerGuest } from '@vbus/core/browser';
import { LearningSwitch } from '@vbus/net';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { diffCounters, readCounters, signalsPerFrame, type NicCounters } from './counters.js';
import { render, type DemoState } from './view.js';
import type { GuestCommand, GuestConfig, GuestReply } from './guest-worker.js';
import { startPageV86 } from './v86-guest.js';
import { LINUX_IP, LINUX_MAC } from './v86-plan.js';

/**
 * The load steps: frames streamed with at most `window` unanswered. The largest window is half the
 * rings (256 descriptors): a window as large as a ring lets the receiver's ring overflow, and the
 * devices then count drops.
 */
const PHASES = [
  { window: 1, frames: 2_000 },
  { window: 4, frames: 8_000 },
  { window: 16, frames: 20_000 },
  { window: 64, frames: 40_000 },
  { window: 128, frames: 60_000 },
];
const FRAME_BYTES = 256;
const SAMPLE_MS = 100;

interface Guest {
  config: GuestConfig;
  handle: WebWorkerGuest;
  /** Send a command and wait for its reply (one at a time per guest). */
  request(c: GuestCommand): Promise<GuestReply>;
}

function guestOf(connector: WebWorkerConnector, config: GuestConfig): Promise<Guest> {
  // #region spawn
  const handle = connector.spawn(new URL('./guest-worker.js', import.meta.url), { name: config.device, data: config });
  // #endregion spawn
  let waiting: ((r: GuestReply) => void) | undefined;
  const worker = handle.worker as unknown as { addEventListener(t: 'message', f: (e: { data: GuestReply }) => void): void };
  return new Promise((resolve, reject) => {
    void handle.exited.then((reason) => reject(new Error(reason)));
    worker.addEventListener('message', (e) => {
      if (e.data.cmd === 'ready')
        resolve({
          config,
          handle,
          request: (c) =>
            new Promise((r) => {
              waiting = r;
              handle.worker.postMessage(c);
            }),
        });
      else waiting?.(e.data);
    });
  });
}

function expectReply<T extends GuestReply['cmd']>(r: GuestReply, cmd: T): Extract<GuestReply, { cmd: T }> {
  if (r.cmd === 'error') throw new Error(r.message);
  if (r.cmd !== cmd) throw new Error(`expected a ${cmd} reply, got ${r.cmd}`);
  return r as Extract<GuestReply, { cmd: T }>;
}

async function main(state: DemoState): Promise<void> {
  // #region page-bus
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('browser');
  const sw = new LearningSwitch({ name: 'switch0' });
  bus.on('device-failed', (d, e) => state.failures.push(`${d.name}: ${e.message}`));
  const configs: GuestConfig[] = [
    { device: 'venet0', kind: 'venet', ip: '192.0.2.10' },
    { device: 'virtio1', kind: 'virtio-net', ip: '192.0.2.11' },
  ];
  bus.createDevice('virtual-ethernet', 'venet0', { mac: '52:54:00:12:34:10', backend: sw });
  bus.createDevice('virtio-net', 'virtio1', { mac: '52:54:00:12:34:11', backend: sw });
  const connector = new WebWorkerConnector(bus);
  const [a, b] = await Promise.all(configs.map((c) => guestOf(connector, c)));
  // #endregion page-bus
  state.step = 'ping';

  const sample = () => {
    const now = readCounters(bus);
    state.counters = now;
    const last = state.lastSample;
    if (last) {
      const all = (c: Record<string, NicCounters>) =>
        Object.values(c).reduce((s, x) => ({ ...s, ...Object.fromEntries(Object.entries(x).map(([k, v]) => [k, (s[k as keyof NicCounters] ?? 0) + v])) }), {} as NicCounters);
      const d = diffCounters(all(now), all(last.counters));
      const frames = d.txFrames + d.rxFrames;
      if (frames > 0)
        state.samples.push({
          t: performance.now() - state.started,
          window: state.window,
          framesPerSec: frames / ((performance.now() - last.t) / 1000),
          signalsPerFrame: signalsPerFrame(d),
        });
    }
    state.lastSample = { t: performance.now(), counters: now };
    render(state);
  };
  const timer = setInterval(sample, SAMPLE_MS);
  try {
    state.pings.push({ from: a!.config.device, to: b!.config.ip, rtts: expectReply(await a!.request({ cmd: 'ping', ip: b!.config.ip, count: 5, size: 56 }), 'ping').rtts });
    state.pings.push({ from: b!.config.device, to: a!.config.ip, rtts: expectReply(await b!.request({ cmd: 'ping', ip: a!.config.ip, count: 5, size: 1000 }), 'ping').rtts });
    for (const phase of PHASES) {
      state.step = `stream, window ${phase.window}`;
      state.window = phase.window;
      const before = readCounters(bus);
      const guestBefore = await Promise.all([a!, b!].map(async (g) => expectReply(await g.request({ cmd: 'stats' }), 'stats').nic));
      const r = expectReply(await a!.request({ cmd: 'stream', ip: b!.config.ip, frames: phase.frames, size: FRAME_BYTES, window: phase.window }), 'stream');
      const after = readCounters(bus);
      const guestAfter = await Promise.all([a!, b!].map(async (g) => expectReply(await g.request({ cmd: 'stats' }), 'stats').nic));
      const da = diffCounters(after[a!.config.device]!, before[a!.config.device]!);
      const db = diffCounters(after[b!.config.device]!, before[b!.config.device]!);
      // every frame a sent reached b or was counted as dropped at b; every echo b's device took
      // reached a or was counted as dropped at a
      const lost = r.sent - db.rxFrames - db.rxDrops + (db.txFrames - da.rxFrames - da.rxDrops);
      const guestFrames = guestAfter.map((s, i) => {
        const was = guestBefore[i]!;
        return {
          tx: s.txFrames - was.txFrames,
          rx: s.rxFrames - was.rxFrames,
          kicks: s.kicks - was.kicks,
          kicksSuppressed: s.suppressed - was.suppressed,
          interrupts: s.interrupts - was.interrupts,
        };
      });
      state.phases.push({
        window: phase.window,
        sent: r.sent,
        echoed: r.echoed,
        ms: r.ms,
        lost,
        drops: da.drops + db.drops,
        devices: { [a!.config.device]: da, [b!.config.device]: db },
        // the guests' own counts of what their drivers sent and took, next to the devices'
        guestFrames: { [a!.config.device]: guestFrames[0]!, [b!.config.device]: guestFrames[1]! },
        signalsPerFrame: signalsPerFrame({
          ...da,
          txFrames: da.txFrames + db.txFrames,
          rxFrames: da.rxFrames + db.rxFrames,
          kicks: da.kicks + db.kicks,
          interrupts: da.interrupts + db.interrupts,
        }),
      });
      render(state);
    }
    sample();
    // the counters and the chart are the load steps'; the Linux guest comes after
    clearInterval(timer);
    state.phasesDone = true;
    if (withV86) await runLinux(state, sw, a!, b!);
    state.step = 'done';
  } finally {
    clearInterval(timer);
    for (const g of [a!, b!]) g.handle.terminate();
    await sw.close();
    render(state);
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The third guest: Linux in v86 on the same switch; it pings and echoes off both workers, and they ping it. */
async function runLinux(state: DemoState, sw: LearningSwitch, a: Guest, b: Guest): Promise<void> {
  state.step = 'v86: booting Linux';
  const started = performance.now();
  const linux = startPageV86(sw, new URL('./v86/', import.meta.url).href, LINUX_MAC);
  const v86: NonNullable<DemoState['v86']> = { bootMs: 0, pingsToLinux: [], console: '', port: linux.port.portCounters, malformed: 0 };
  state.v86 = v86;
  const show = setInterval(() => {
    v86.console = linux.console();
    render(state);
  }, 500);
  try {
    await until(() => linux.console().includes('VBUS-GUEST-UP'), 240_000, 'Linux to boot in v86');
    v86.bootMs = performance.now() - started;
    state.step = 'v86: Linux pings and echoes';
    for (const g of [a, b]) v86.pingsToLinux.push({ from: g.config.device, rtts: expectReply(await g.request({ cmd: 'ping', ip: LINUX_IP, count: 3, size: 56 }), 'ping').rtts });
    await until(() => linux.console().includes('VBUS-GUEST-WAITING'), 240_000, "Linux's pings and UDP echoes");
    linux.serialSend('now\n');
    await until(() => linux.console().includes('VBUS-GUEST-GO now'), 30_000, 'Linux to finish');
  } finally {
    clearInterval(show);
    v86.console = linux.console();
    v86.port = { ...linux.port.portCounters };
    v86.malformed = linux.port.counters.malformed;
    await linux.stop();
  }
}

const withV86 = new URLSearchParams((globalThis as unknown as { location: { search: string } }).location.search).has('v86');
const state: DemoState = { step: 'starting', started: performance.now(), window: 0, pings: [], phases: [], samples: [], counters: {}, failures: [] };
(globalThis as unknown as { vbusDemo: DemoState }).vbusDemo = state;
main(state).catch((e: unknown) => {
  state.step = 'error';
  state.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  render(state);
});
