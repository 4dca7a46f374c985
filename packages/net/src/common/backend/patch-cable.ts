import type { FrameOffload, NetBackend, NetBackendPort } from './net-backend.js';

/** Two ports joined back to back by {@link connectBackends}. */
export interface PatchCable {
  /** The port on the first backend. */
  readonly a: NetBackendPort;
  /** The port on the second backend. */
  readonly b: NetBackendPort;
  /** Disconnect both ends. */
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
}

/**
 * Join two backends with a cable: what backend `a` delivers to the cable goes into backend `b`
 * and back. This is how a socket to QEMU, a VDE plug or a second switch becomes a port of a
 * switch: `connectBackends(theSwitch, qemuStream, { name: 'qemu0' })`.
 */
export function connectBackends(a: NetBackend, b: NetBackend, options: PatchCableOptions): PatchCable {
  const mac = options.mac ?? new Uint8Array(6);
  const acceptsOffload = options.acceptsOffload === true;
  let portA: NetBackendPort | undefined;
  let portB: NetBackendPort | undefined;
  // eslint-disable-next-line prefer-const -- declared like portB, which the sink of portA reads before it is assigned
  portA = a.attach(
    { name: options.name, mac, acceptsOffload, uplink: true },
    { deliver: (frame: Uint8Array, offload?: FrameOffload) => portB !== undefined && portB.deliver(frame, offload) },
  );
  portB = b.attach(
    { name: options.name, mac, acceptsOffload, uplink: true },
    { deliver: (frame: Uint8Array, offload?: FrameOffload) => portA !== undefined && portA.deliver(frame, offload) },
  );
  const pa = portA;
  const pb = portB;
  return {
    a: pa,
    b: pb,
    disconnect(): void {
      pa.disconnect();
      pb.disconnect();
    },
  };
}
