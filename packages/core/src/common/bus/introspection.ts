import type { SignalCounters } from '../signal/shm-signal.js';
import type { Attributes, Counters } from './device.js';

/** A device's lifecycle state. */
export type DeviceState = 'ready' | 'failed';

/** What a guest learns about a device when it enumerates a bus. */
export interface DeviceInfo {
  readonly name: string;
  readonly type: string;
  readonly version: number;
  readonly state: DeviceState;
}

/** A region (a ring) the guest shared on a connection with the `shm` verb. */
export interface RegionSnapshot {
  /** The device-defined id the guest gave (venet: RX 0, TX 1...): which queue this is. */
  id: number;
  /** Guest address and length of the region. */
  address: number;
  length: number;
  /** The region's signal slot on the connection, or null if it was shared without a signal. */
  slot: number | null;
}

/**
 * One signal of a connection, as the host sees it. The host holds the south (device) endpoint;
 * the guest holds the north one, in its own thread when it is a worker. `injected`,
 * `suppressed`, `handlerRuns` and `wakeups` are the south endpoint's {@link SignalCounters};
 * `kicks` is what the host observed of the guest's endpoint.
 */
export interface SignalSnapshot extends SignalCounters {
  /** The slot on the connection's doorbell (the order in which signals were registered). */
  slot: number;
  /** The id of the region (queue) the signal belongs to. */
  region: number;
  /**
   * Kicks from the guest that reached the host: deliveries of this slot to the device's endpoint.
   * Kicks the guest sent while one was still on its way are delivered once (the doorbell's bit or
   * the scheduler's queued delivery collapses them), so this is at most the guest's own count of
   * injected signals, and equal to it when the device keeps up.
   */
  kicks: number;
}

/** Introspection of one connection (open, or the final snapshot of a closed one). */
export interface ConnectionSnapshot {
  /** Connection id, counted per Vbus from 1 in the order connections were made. */
  id: number;
  /** The guest's name as its connector gave it (e.g. `"worker-1"`, `"in-process"`). */
  guest: string;
  regions: RegionSnapshot[];
  signals: SignalSnapshot[];
  /** The device's own per-connection counters (its `DeviceConnectionHandler.counters`). */
  counters: Counters;
  /** Why the connection closed (`"closed by guest"`, `"device removed"`...); null while open. */
  closed: string | null;
}

/** Counts of requests to one device refused by a {@link BusLimits} limit. */
export interface DeviceRefusals {
  /** Connects refused because the device already had `connectionsPerDevice` open. */
  connectionsPerDevice: number;
  /** `shm` verbs refused because the connection already had `shmPerConnection` regions. */
  shmPerConnection: number;
  /** `call` verbs refused because the argument was over `callBytes`. */
  callBytes: number;
}

/** Introspection of one device. */
export interface DeviceSnapshot extends DeviceInfo {
  /** The error that failed the device, or null. */
  error: string | null;
  /** Requests refused by a bus limit ({@link BusLimits}), per limit. */
  refused: DeviceRefusals;
  attributes: Attributes;
  counters: Counters;
  /** Open connections. */
  connections: ConnectionSnapshot[];
  /**
   * Final snapshots of connections that closed (a worker guest that exited, a guest that closed),
   * oldest first, kept until read with `Bus.takeClosedConnections` or until more than the
   * `closedConnectionsKept` limit closed since (the oldest go first, counted in `closedDropped`).
   */
  closedConnections: ConnectionSnapshot[];
  /** Final snapshots dropped because more than `closedConnectionsKept` were waiting. */
  closedDropped: number;
}

/** Introspection of one bus. */
export interface BusSnapshot {
  name: string;
  devices: DeviceSnapshot[];
}
