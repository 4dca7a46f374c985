/**
 * One vring as the front end configures it (size, addresses, base, kick/call/err eventfds), and
 * the shm-signal pair that joins its eventfds to the device's queue: a kick from the front end
 * becomes the device's queue signal; the device's interrupt becomes a write to the call eventfd.
 */
import { ShmSignal, SHM_SIGNAL_SIZE, Side } from '@vbus/core';
import { safeClose, type TransitionCounters, type VhostPlatform } from './platform.js';

/** One vring as the front end configured it. */
export interface Vring {
  num: number | null;
  /** Ring addresses in the front end's address space (translated at start). */
  addr: { desc: number; used: number; avail: number } | null;
  /** Next avail index to process (SET_VRING_BASE; updated by GET_VRING_BASE). */
  base: number;
  kick: number | null;
  stopKick: (() => void) | null;
  /** A kick fd (or no-fd polling) was given since the last stop: the ring is started. */
  started: boolean;
  call: number | null;
  err: number | null;
  enabled: boolean;
  /** The signal between the kick/call eventfds and the device's queue. */
  north: ShmSignal;
  south: ShmSignal;
}

/** A fresh shm-signal whose two ends wake each other directly (no scheduler between them). */
export function signalPair(name: string): { north: ShmSignal; south: ShmSignal } {
  const cells = new Int32Array(new SharedArrayBuffer(SHM_SIGNAL_SIZE));
  ShmSignal.format(cells);
  // direct wakes: a kick runs the device's queue work at once, an interrupt writes the call eventfd at once
  const north: ShmSignal = new ShmSignal(cells, Side.North, () => south.wakeup(), `${name}.north`);
  const south: ShmSignal = new ShmSignal(cells, Side.South, () => north.wakeup(), `${name}.south`);
  return { north, south };
}

/** Vring `i` in its state after connecting; the device's interrupts on it write its call eventfd. */
export function newVring(i: number, platform: VhostPlatform, transitions: TransitionCounters): Vring {
  const { north, south } = signalPair(`vring${i}`);
  const v: Vring = { num: null, addr: null, base: 0, kick: null, stopKick: null, started: false, call: null, err: null, enabled: false, north, south };
  north.handler = () => {
    if (v.call === null) {
      transitions.callsSuppressed++;
      return;
    }
    // sound: the used ring was written before this check, and a consumer that has not read the
    // eventfd yet raises its interrupt after it reads, so the guest sees these entries then
    if (platform.pending?.(v.call) === true) {
      transitions.callsCoalesced++;
      return;
    }
    transitions.calls++;
    platform.signal(v.call);
  };
  return v;
}

/** Stop watching the vring's kick eventfd (it stays open). */
export function stopKick(v: Vring): void {
  v.stopKick?.();
  v.stopKick = null;
}

/** Close the vring's eventfds and forget its configuration: the state after connecting. */
export function releaseVring(v: Vring, platform: VhostPlatform): void {
  stopKick(v);
  safeClose(platform, v.kick);
  safeClose(platform, v.call);
  safeClose(platform, v.err);
  Object.assign(v, { num: null, addr: null, base: 0, kick: null, call: null, err: null, started: false, enabled: false });
}
