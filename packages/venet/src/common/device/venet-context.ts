import type { Counters, QueueCounters } from '@vbus/core';
import type { NetBackendPort } from '@vbus/net';
import type { DeviceRing } from './device-ring.js';
import type { VenetConfig } from './venet-config.js';

/** Counters of one venet queue (kept per device, across connections); the bus's {@link QueueCounters}. */
export type VenetQueueCounters = QueueCounters;

/** The device's counters per queue. */
export interface VenetStats {
  rx: VenetQueueCounters;
  tx: VenetQueueCounters;
  evq: VenetQueueCounters;
}

/** Why rx frames were dropped (the sum is stats.rx.drops). */
export interface VenetRxDrops {
  noConnection: number;
  linkDown: number;
  noBuffer: number;
  tooBig: number;
  backlogFull: number;
  backlogDiscarded: number;
}

/** Why tx frames were dropped before the backend (part of stats.tx.drops). */
export interface VenetTxDrops {
  /** GSO metadata over the limits of @vbus/net's gso-limits (size below the minimum MSS, too many segments). */
  gso: number;
  /** Why the last frame counted here was refused. */
  lastReason: string | undefined;
}

/**
 * What a connection gets from its device: a small context instead of the device's fields, so the
 * connection's code reads (and tests can build) exactly this.
 */
export interface VenetConnectionContext {
  readonly name: string;
  readonly config: VenetConfig;
  readonly stats: VenetStats;
  readonly rxDrops: VenetRxDrops;
  readonly txDrops: VenetTxDrops;
  /** The backend port frames go out through; without one, transmitted frames are counted drops. */
  readonly port: NetBackendPort | undefined;
  /** Run `fn` later, from the device's bottom half. */
  defer(fn: () => void): void;
  /** Run `fn` after the bus's loop turned once (the tx path's polling before it unmasks). */
  nextTurn(fn: () => void): void;
  /** The bus's clock in ms (virtual under a virtual-time scheduler): the burst threshold reads it. */
  now(): number;
  /** Fail the device with `error` (the bus disconnects it). */
  fail(error: unknown): void;
  /** The connection closed. */
  closed(): void;
  /** The device's counters (a connection reports its device's). */
  counters(): Counters;
}

/** What the tx and rx paths read of their connection. */
export interface VenetPathHost {
  readonly ctx: VenetConnectionContext;
  /** Neither failed nor closed. */
  readonly live: boolean;
  readonly linkUp: boolean;
  /** The event ring, once EVQQUERY accepted it. */
  readonly evq: DeviceRing | undefined;
  /** The pre-mapped descriptor pool, once PMTDQUERY set it. */
  readonly pmtd: { pool: number; len: number } | undefined;
  /** Negotiated bits of capability group `gid`. */
  caps(gid: number): number;
  /** Write one event into the next event buffer; false (counted) if the guest posted none. */
  pushEvent(ev: Uint8Array): boolean;
  /** Run `fn`; any error fails the device naming the queue, the slot and the rule. */
  guard(queue: 'rx' | 'tx' | 'evq', fn: () => void): boolean;
}
