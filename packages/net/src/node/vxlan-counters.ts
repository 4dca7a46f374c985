import type { SocketBackendCounters } from './socket-backend-base.js';

/** Drops by reason, kept per remote and in total. */
export interface VxlanDrops {
  /** Datagrams shorter than the VXLAN header plus an Ethernet header. */
  runt: number;
  /** Datagrams without the I flag. */
  flags: number;
  /** Datagrams with a reserved flag bit or field set (Linux drops these too). */
  reserved: number;
  /** Datagrams for another VNI. */
  vni: number;
  /** Frames to send that do not fit the inner MTU. */
  tooBig: number;
  /** Frames the socket failed to send. */
  sendError: number;
  /** Frames dropped because the socket already had `maxQueuedDatagrams` waiting (the receiver or the network is slower than the guests). */
  backlog: number;
}

/** Counters of one remote VTEP. */
export interface VxlanRemoteCounters {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  drops: VxlanDrops;
}

/** Introspection of one remote VTEP. */
export interface VxlanRemoteInfo {
  host: string;
  port: number;
  counters: VxlanRemoteCounters;
}

/** Counters of a {@link VxlanBackend} (all remotes together, plus what no remote owns). */
export interface VxlanCounters extends SocketBackendCounters {
  drops: VxlanDrops;
  /** Datagrams from an address that is not a configured remote. */
  foreign: number;
  /** Frames flooded to every remote, and unicast frames sent to one learned remote. */
  flooded: number;
  forwarded: number;
  learned: number;
  moved: number;
  expired: number;
  tableFull: number;
  /** Socket errors. */
  errors: number;
}

/** Fresh zeroed {@link VxlanDrops}. */
export const newVxlanDrops = (): VxlanDrops => ({ runt: 0, flags: 0, reserved: 0, vni: 0, tooBig: 0, sendError: 0, backlog: 0 });

/** Fresh zeroed {@link VxlanRemoteCounters}. */
export const newVxlanRemoteCounters = (): VxlanRemoteCounters => ({ framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: newVxlanDrops() });
