// Per-device frame and signal counters read from the bus's introspection, and what changed
// between two readings. Works on any bus whose NIC devices name their queues rx*/tx*.
import type { Bus } from '@vbus/core';

/** One NIC device's counters, summed over its queues. */
export interface NicCounters {
  txFrames: number;
  rxFrames: number;
  /** Frames the device dropped (rx ring full, tx refused by the backend). */
  drops: number;
  rxDrops: number;
  /** Guest-to-device notifications that crossed. */
  kicks: number;
  /** Device-to-guest notifications that crossed. */
  interrupts: number;
  /** Notifications either way that the shared-memory signal made unnecessary. */
  suppressed: number;
}

/** Counters of every device on `bus`, by device name. */
export function readCounters(bus: Bus): Record<string, NicCounters> {
  const out: Record<string, NicCounters> = {};
  for (const d of bus.introspect().devices) {
    const c = d.counters as Record<string, Record<string, number>>;
    // queues are rx/tx (venet) or rx0/tx0 (virtio-net); event and control queues carry no frames
    const queues = Object.entries(c).filter(([, q]) => typeof q === 'object' && q !== null);
    const sum = (k: string, prefix = '') => queues.filter(([n]) => n.startsWith(prefix)).reduce((s, [, q]) => s + (q[k] ?? 0), 0);
    out[d.name] = {
      txFrames: sum('frames', 'tx'),
      rxFrames: sum('frames', 'rx'),
      drops: sum('drops', 'rx') + sum('drops', 'tx'),
      rxDrops: sum('drops', 'rx'),
      kicks: sum('kicks'),
      interrupts: sum('interrupts'),
      suppressed: sum('suppressed'),
    };
  }
  return out;
}

/** `after - before`, field by field. */
export function diffCounters(after: NicCounters, before: NicCounters): NicCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as Array<keyof NicCounters>) out[k] = after[k] - before[k];
  return out;
}

/** Signals that crossed (kicks and interrupts) per frame moved; 0 when no frame moved. */
export function signalsPerFrame(c: NicCounters): number {
  const frames = c.txFrames + c.rxFrames;
  return frames === 0 ? 0 : (c.kicks + c.interrupts) / frames;
}
