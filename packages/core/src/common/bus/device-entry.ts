import { BusError, VbusError } from '../errors.js';
import { describeError, safeEmit } from './bus-events.js';
import type { Bus } from './bus.js';
import type { Device, DeviceClass } from './device.js';
import type { DeviceContextImpl } from './device-context.js';
import type { HostConnection } from './host-connection.js';
import type { ConnectionSnapshot, DeviceInfo, DeviceRefusals, DeviceState } from './introspection.js';

/** @internal A device on a bus with its state. */
export class DeviceEntry {
  state: DeviceState = 'ready';
  error: VbusError | null = null;
  readonly connections = new Set<HostConnection>();
  readonly refused: DeviceRefusals = { connectionsPerDevice: 0, shmPerConnection: 0, callBytes: 0 };
  /** Final snapshots of closed connections, oldest first, until read or past the bus's limit. */
  closed: ConnectionSnapshot[] = [];
  /** Final snapshots dropped past the limit. */
  closedDropped = 0;
  /** The device's context; its timed tasks are cancelled when the device fails or leaves the bus. */
  context: DeviceContextImpl | undefined;
  /** Off the bus (removed or reset): its deferred and timed work is dropped. */
  removed = false;
  device!: Device;

  constructor(
    readonly bus: Bus,
    readonly name: string,
    readonly deviceClass: DeviceClass<unknown>,
    readonly config: unknown,
  ) {}

  /** On its bus and not failed: its deferred and timed work may run. */
  get live(): boolean {
    return this.state === 'ready' && !this.removed;
  }

  info(): DeviceInfo {
    return { name: this.name, type: this.deviceClass.type, version: this.deviceClass.version, state: this.state };
  }

  /** Keep a closed connection's final snapshot, dropping the oldest past the bus's limit. */
  keepClosed(snapshot: ConnectionSnapshot): void {
    this.closed.push(snapshot);
    const max = this.bus.limits.closedConnectionsKept;
    while (this.closed.length > max) {
      this.closed.shift();
      this.closedDropped++;
    }
  }

  /** Cancel every timed task the device armed. */
  cancelTimers(): void {
    this.context?.cancelTimers();
  }

  /**
   * Mark failed, close every connection, tell listeners. Never throws: each close is guarded
   * on its own (one connection's throwing handler or doorbell cannot keep the others open), and
   * `device-failed` is always emitted.
   */
  fail(error: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.cancelTimers();
    this.error = VbusError.is(error) ? error : new BusError(`device ${this.name} failed: ${describeError(error)}`, { cause: error });
    const reason = `device failed: ${this.error.message}`;
    // the embedder hears of it through `device-failed`; the log is for diagnosis (a hostile guest can cause many)
    this.bus.logger.info(`device ${this.name} on bus ${this.bus.name} failed: ${this.error.message}`, {
      bus: this.bus.name,
      device: this.name,
      code: this.error.code,
      ...this.error.context,
    });
    for (const c of [...this.connections]) {
      try {
        c.hostClose(reason);
      } catch {
        /* hostClose does not throw; this guards a subclass or a future change */
      }
    }
    safeEmit(this.bus, 'device-failed', this.info(), this.error);
  }
}
