import { MicrotaskScheduler, type Scheduler } from '@vbus/core';
import type { FrameOffload, FrameSink, NetBackend, NetBackendPort } from './net-backend.js';
import { checkLinkOptions, LinkLane, type LinkModel, type LinkOptions, type LinkStats } from './link.js';

/** Two ports joined back to back by {@link connectBackends}. */
export interface PatchCable {
  /** The port on the first backend. */
  readonly a: NetBackendPort;
  /** The port on the second backend. */
  readonly b: NetBackendPort;
  /** The cable's modelled link, per direction, when it has one (`aToB`: what backend `a` sent toward `b`). */
  link(): { model: LinkModel; aToB: LinkStats; bToA: LinkStats } | undefined;
  /** Disconnect both ends (frames still on a modelled link are dropped and counted on the port that sent them). */
  disconnect(): void;
}

/** Options of {@link connectBackends}. */
export interface PatchCableOptions {
  /** The name both ports get, e.g. `"uplink"`. */
  name: string;
  /** MAC reported to the backends; a cable has none of its own (default all zero). */
  mac?: Uint8Array;
  /** Whether frames may keep offload metadata across the cable (default false: completed first). */
  acceptsOffload?: boolean;
  /**
   * Model the cable as a link with latency, bandwidth and a bounded queue (link.ts), the same in
   * each direction. Default: none (an ideal cable: synchronous, no copy).
   */
  link?: LinkOptions;
  /** Where a modelled link runs its deliveries, e.g. a VirtualTimeScheduler. Default: a real-time MicrotaskScheduler. */
  scheduler?: Scheduler;
}

/**
 * Join two backends with a cable: what backend `a` delivers to the cable goes into backend `b`
 * and back. This is how a socket to QEMU, a VDE plug or a second switch becomes a port of a
 * switch: `connectBackends(theSwitch, qemuStream, { name: 'qemu0' })`.
 */
export function connectBackends(a: NetBackend, b: NetBackend, options: PatchCableOptions): PatchCable {
  const mac = options.mac ?? new Uint8Array(6);
  const acceptsOffload = options.acceptsOffload === true;
  const model = checkLinkOptions(options.link, 'link');
  let portA: NetBackendPort | undefined;
  let portB: NetBackendPort | undefined;
  const toB = (frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean => portB !== undefined && portB.deliver(frame, offload, more);
  const toA = (frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean => portA !== undefined && portA.deliver(frame, offload, more);
  let aToB: LinkLane | undefined;
  let bToA: LinkLane | undefined;
  // an ideal wire passes a burst through whole (more, then flush), so a socket at the far end
  // writes it with one call
  let sinkA: FrameSink = { deliver: toB, flush: () => portB?.flush?.() };
  let sinkB: FrameSink = { deliver: toA, flush: () => portA?.flush?.() };
  if (model !== undefined) {
    const scheduler = options.scheduler ?? new MicrotaskScheduler();
    const ab = new LinkLane(model, scheduler, toB);
    const ba = new LinkLane(model, scheduler, toA);
    aToB = ab;
    bToA = ba;
    // a full queue is the sending backend's drop (its port counts it, as a socket that cannot send)
    sinkA = { deliver: (frame, offload) => ab.send(frame, offload) };
    sinkB = { deliver: (frame, offload) => ba.send(frame, offload) };
  }
  portA = a.attach({ name: options.name, mac, acceptsOffload, uplink: true }, sinkA);
  portB = b.attach({ name: options.name, mac, acceptsOffload, uplink: true }, sinkB);
  const pa = portA;
  const pb = portB;
  return {
    a: pa,
    b: pb,
    link: () => (model && aToB && bToA ? { model, aToB: { ...aToB.stats }, bToA: { ...bToA.stats } } : undefined),
    disconnect(): void {
      // what was on the wire is lost with the cable: a drop on the port whose backend sent it
      pa.counters.drops += aToB?.clear() ?? 0;
      pb.counters.drops += bToA?.clear() ?? 0;
      pa.disconnect();
      pb.disconnect();
    },
  };
}
