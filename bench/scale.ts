// Scale rows: 1, 2, 4 and 8 guests (worker threads, one venet NIC each) stream into one learning
// switch at once, toward one sink port; aggregate frames/s and CPU per frame, every frame
// accounted for (delivered to the sink or counted as a drop).
import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { venetModule } from '@vbus/venet';
import { GuestResponder, LearningSwitch, parseMac } from '@vbus/net';
import { NicGuestHandle } from '@vbus/guest-nic';
import type { ScaleRow } from './report.js';
import { median, summarize } from './stats.js';

/** One run of one guest count. */
export interface ScaleRun {
  guests: number;
  frameSize: number;
  /** Frames the guests sent (all of them together). */
  frames: number;
  /** Frames that reached the sink, and frames counted as dropped on the way. */
  delivered: number;
  dropped: number;
  seconds: number;
  /** Delivered frames per second, all guests together. */
  framesPerSec: number;
  /** Process CPU time (every thread) per delivered frame, in µs. */
  cpuUsPerFrame: number;
  /** Kicks and interrupts per sent frame, all devices together. */
  kicksPerFrame: number;
  interruptsPerFrame: number;
}

const SINK_IP = '192.0.2.254';

/** Run one scale row: `guests` workers each stream `framesPerGuest` frames of `size` bytes to the sink. */
export async function runScaleRow(guests: number, framesPerGuest: number, size: number): Promise<ScaleRun> {
  const { vbus } = createVbus({ modules: [venetModule] });
  const bus = vbus.createBus('scale');
  const sw = new LearningSwitch({ name: 'scale' });
  // the sink: a switch port in the host thread that counts data frames and answers ARP
  const sinkMac = parseMac('52:54:00:ff:00:01');
  const sink = new GuestResponder({ mac: sinkMac, ip: SINK_IP, name: 'sink' });
  // data frames (IPv4) are only counted; ARP goes to the responder so the guests can resolve the sink
  let sinkFrames = 0;
  const sinkPort = sw.attach(
    { name: 'sink', mac: sinkMac },
    {
      deliver(frame) {
        if (frame.length >= 14 && frame[12] === 0x08 && frame[13] === 0x00) {
          sinkFrames++;
          return true;
        }
        return sink.deliver(frame);
      },
    },
  );
  sink.setTransmit((f) => sinkPort.deliver(f));
  const connector = new WorkerConnector(bus);
  const handles: NicGuestHandle[] = [];
  for (let i = 0; i < guests; i++) {
    bus.createDevice('virtual-ethernet', `venet${i}`, { mac: `52:54:00:00:01:${(i + 1).toString(16).padStart(2, '0')}`, backend: sw });
    handles.push(await NicGuestHandle.spawn(connector, { device: `venet${i}`, kind: 'venet', ip: `192.0.2.${i + 1}` }));
  }
  // each guest resolves the sink with ARP before it streams (the sink's reply teaches the switch its
  // port), so every data frame is unicast to a learned port
  const before = { snap: totals(bus) };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const results = await Promise.all(handles.map((h) => h.request<{ sent: number }>({ cmd: 'stream', ip: SINK_IP, frames: framesPerGuest, size, batch: 128, window: 0 })));
  // let the devices drain what the guests posted last
  let prev = -1;
  for (let i = 0; i < 100 && sinkFrames !== prev; i++) {
    prev = sinkFrames;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = totals(bus);
  const frames = results.reduce((s, r) => s + r.sent, 0);
  const delivered = sinkFrames;
  const dropped = after.txDrops - before.snap.txDrops;
  for (const h of handles) await h.stop();
  await sw.close();
  return {
    guests,
    frameSize: size,
    frames,
    delivered,
    dropped,
    seconds,
    framesPerSec: delivered / seconds,
    cpuUsPerFrame: (cpu.user + cpu.system) / Math.max(1, delivered),
    kicksPerFrame: (after.kicks - before.snap.kicks) / Math.max(1, frames),
    interruptsPerFrame: (after.interrupts - before.snap.interrupts) / Math.max(1, frames),
  };
}

function totals(bus: ReturnType<ReturnType<typeof createVbus>['vbus']['createBus']>): { txDrops: number; kicks: number; interrupts: number } {
  let txDrops = 0;
  let kicks = 0;
  let interrupts = 0;
  for (const d of bus.introspect().devices) {
    const c = d.counters as Record<string, Record<string, number>>;
    txDrops += c.tx?.drops ?? 0;
    for (const q of Object.values(c)) {
      if (typeof q !== 'object') continue;
      kicks += q.kicks ?? 0;
      interrupts += q.interrupts ?? 0;
    }
  }
  return { txDrops, kicks, interrupts };
}

const GUESTS = [1, 2, 4, 8];

/**
 * The scale section: 1, 2, 4 and 8 guests, `reps` times in turn (1, 2, 4, 8, 1, 2, ...), so that
 * each repetition's 8-guest figure is paired with its own 1-guest figure.
 */
export async function runScale(framesPerGuest: number, size = 64, reps = 1, progress: (s: string) => void = () => {}): Promise<ScaleRow[]> {
  const runs = new Map<number, ScaleRun[]>(GUESTS.map((n) => [n, []]));
  for (let rep = 0; rep < reps; rep++)
    for (const n of GUESTS) {
      progress(`scale ${rep + 1}/${reps}: ${n} guest(s)`);
      runs.get(n)!.push(await runScaleRow(n, framesPerGuest, size));
    }
  const one = runs.get(1)!;
  return GUESTS.map((n) => {
    const rs = runs.get(n)!;
    const sum = (f: (r: ScaleRun) => number) => rs.reduce((s, r) => s + f(r), 0);
    const fps = summarize(rs.map((r) => r.framesPerSec));
    return {
      guests: n,
      frameSize: size,
      reps,
      frames: sum((r) => r.frames),
      delivered: sum((r) => r.delivered),
      dropped: sum((r) => r.dropped),
      seconds: median(rs.map((r) => r.seconds)),
      framesPerSec: fps.median,
      framesPerSecRuns: fps,
      ratioToOneGuest: median(rs.map((r, i) => r.framesPerSec / one[i]!.framesPerSec)),
      cpuUsPerFrame: median(rs.map((r) => r.cpuUsPerFrame)),
      kicksPerFrame: median(rs.map((r) => r.kicksPerFrame)),
      interruptsPerFrame: median(rs.map((r) => r.interruptsPerFrame)),
    };
  });
}
