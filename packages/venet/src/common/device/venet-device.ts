import { BusError, newQueueCounters, type Attributes, type Counters, type Device, type DeviceConnectionHandler, type DeviceContext, type GuestMemory } from '@vbus/core';
import { formatMac, type FrameSink, type NetBackendPort } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import type { VenetConfig } from './venet-config.js';
import { VenetConnection } from './venet-connection.js';
import type { VenetConnectionContext, VenetRxDrops, VenetStats, VenetTxDrops } from './venet-context.js';

/**
 * A venet NIC on a bus. One guest connection at a time; one backend port for the device's life.
 * The device owns what outlives a connection (config, counters, the port); each connection gets
 * them through a {@link VenetConnectionContext}.
 */
export class VenetDevice implements Device {
  readonly type = abi.VENET_TYPE;
  readonly stats: VenetStats = { rx: newQueueCounters(), tx: newQueueCounters(), evq: newQueueCounters() };
  /** Why rx frames were dropped (the sum is stats.rx.drops). */
  readonly rxDrops: VenetRxDrops = { noConnection: 0, linkDown: 0, noBuffer: 0, tooBig: 0, backlogFull: 0, backlogDiscarded: 0 };
  /** Why tx frames were dropped before the backend (part of stats.tx.drops). */
  readonly txDrops: VenetTxDrops = { gso: 0, lastReason: undefined };
  readonly port: NetBackendPort | undefined;
  private conn: VenetConnection | undefined;

  constructor(
    readonly config: VenetConfig,
    readonly context: DeviceContext,
  ) {
    // a burst from the backend (frames with more, then flush) takes one rx notification
    const sink: FrameSink = { deliver: (frame, _offload, more) => this.fromBackend(frame, more === true), flush: () => this.conn?.endRxBurst() };
    this.port = config.backend?.attach({ name: context.name, mac: config.mac, acceptsOffload: false }, sink);
  }

  /** The connection currently open, if any (for tests and introspection). */
  get connection(): VenetConnection | undefined {
    return this.conn;
  }

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    if (this.conn) throw new BusError(`${this.context.name}: a venet device takes one connection at a time (connection ${this.conn.id} is open)`);
    const context = this.context;
    const ctx: VenetConnectionContext = {
      name: context.name,
      config: this.config,
      stats: this.stats,
      rxDrops: this.rxDrops,
      txDrops: this.txDrops,
      port: this.port,
      defer: (fn) => context.defer(fn),
      nextTurn: (fn) => context.nextTurn(fn),
      now: () => context.now(),
      fail: (error) => context.fail(error),
      closed: () => {
        if (this.conn === c) this.conn = undefined;
      },
      counters: () => this.counters(),
    };
    const c = new VenetConnection(ctx, connection);
    this.conn = c;
    return c;
  }

  private fromBackend(frame: Uint8Array, more: boolean): boolean {
    const c = this.conn;
    if (!c) {
      this.rxDrops.noConnection++;
      this.stats.rx.drops++;
      return false;
    }
    return c.receive(frame, more);
  }

  /** MAC, MTU, ring and mitigation settings, negotiated capabilities, for introspection. */
  attributes(): Attributes {
    const c = this.conn;
    return {
      mac: formatMac(this.config.mac),
      mtu: this.config.mtu,
      ringSize: this.config.ringSize,
      txCompleteEvery: this.config.txCompleteEvery,
      burstThresholdUs: this.config.burstThresholdUs ?? 0,
      pollTurns: this.config.pollTurns,
      backend: this.config.backend?.kind ?? 'none',
      link: c?.linkUp ?? false,
      capsSg: c?.caps(abi.VENET_CAP_GROUP_SG) ?? 0,
      capsEventq: c?.caps(abi.VENET_CAP_GROUP_EVENTQ) ?? 0,
    };
  }

  /** Frames, bytes, drops and signals of this NIC, for introspection. */
  counters(): Counters {
    return { rx: { ...this.stats.rx }, tx: { ...this.stats.tx }, evq: { ...this.stats.evq }, rxDrops: { ...this.rxDrops }, txDrops: { gso: this.txDrops.gso } };
  }

  release(): void {
    this.port?.disconnect();
  }
}
