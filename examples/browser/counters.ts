// Per-device frame and signal counters read from the bus's introspection, and what changed
// between two readings. Works on any bus whose NIC devices name their queues rx*/tx*.
import type { Bus } from '@vbus/core';
import { diffNicDeviceCounters, nicDeviceCounters, type NicDeviceCounters } from '@vbus/net';

/** One NIC device's counters, summed over its queues (from @vbus/net). */
export type NicCounters = NicDeviceCounters;

/** Counters of every device on `bus`, by device name. */
export function readCounters(bus: Bus): Record<string, NicCounters> {
  return nicDeviceCounters(bus.introspect());
}

/** `after - before`, field by field. */
export const diffCounters = diffNicDeviceCounters;

/** Signals that crossed (kicks and interrupts) per frame moved; 0 when no frame moved. */
export function signalsPerFrame(c: NicCounters): number {
  const frames = c.txFrames + c.rxFrames;
  return frames === 0 ? 0 : (c.kicks + c.interrupts) / frames;
}
