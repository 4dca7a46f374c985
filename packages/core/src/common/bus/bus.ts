import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import { BusError, ConfigError, LimitError, type VbusError } from '../errors.js';
import { checkConfigKeys } from '../config-keys.js';
import type { Clock } from '../time/clock.js';
import type { Scheduler } from '../time/scheduler.js';
import type { Logger } from '../log/logger.js';
import { checkLimits, DEFAULT_BUS_LIMITS, type BusLimits } from './limits.js';
import { safeEmit, type BusEvents } from './bus-events.js';
import type { Device, DeviceClass, DeviceConfigOf } from './device.js';
import { DeviceContextImpl } from './device-context.js';
import { DeviceEntry } from './device-entry.js';
import { HostConnection, type GuestAttachment } from './host-connection.js';
import type { BusSnapshot, ConnectionSnapshot, DeviceInfo, DeviceState } from './introspection.js';

/** Ids counted per Vbus, so two identical runs in one process give identical ids. */
export class VbusIds {
  private connections = 0;
  private guests = 0;
  /** The next connection id (1, 2, ...). */
  nextConnection(): number {
    return ++this.connections;
  }
  /** The next guest number a connector names a guest with (1, 2, ...). */
  nextGuest(): number {
    return ++this.guests;
  }
}

/** The services a bus runs on (from its Vbus). */
export interface BusServices {
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly ids: VbusIds;
}

/**
 * A bus instance (vbus's "container"): devices live on it, and guests connect to them. Created by
 * {@link Vbus.createBus}. Faults stay inside the device that caused them.
 */
export class Bus extends EventEmitter<BusEvents> {
  private readonly entries = new Map<string, DeviceEntry>();
  private currentLimits: BusLimits = DEFAULT_BUS_LIMITS;

  /** Where this bus's deferred and timed work runs. */
  readonly scheduler: Scheduler;
  /** The clock devices on this bus read ({@link DeviceContext.now}). */
  readonly clock: Clock;
  /** Where this bus reports what it does not throw. */
  readonly logger: Logger;

  /** @internal use {@link Vbus.createBus} */
  constructor(
    readonly name: string,
    private readonly classes: ReadonlyMap<string, DeviceClass<unknown>>,
    services: BusServices,
  ) {
    super();
    this.scheduler = services.scheduler;
    this.clock = services.clock;
    this.logger = services.logger;
    this.ids = services.ids;
  }

  /** @internal ids counted per Vbus (connections, guests) */
  readonly ids: VbusIds;

  /** The limits in force ({@link DEFAULT_BUS_LIMITS} unless set). */
  get limits(): BusLimits {
    return this.currentLimits;
  }

  /** Change some limits (the others keep their values); a bad value is a ConfigError and changes nothing. */
  setLimits(limits: Partial<BusLimits>): void {
    this.currentLimits = checkLimits('bus.limits', this.currentLimits, limits);
  }

  /**
   * Hot-plug a device of class `type` named `name` with `config`. A key the class does not
   * declare ({@link DeviceClass.configKeys}) is a ConfigError naming the key and the class (a
   * typo is never ignored); the class checks the values. `config` is typed by the class's entry
   * in {@link DeviceConfigs} when its plugin declares one.
   */
  createDevice<K extends string>(type: K, name: string, config?: DeviceConfigOf<K>): DeviceInfo;
  createDevice(type: string, name: string, config: unknown = {}): DeviceInfo {
    const cls = this.classes.get(type);
    if (!cls) throw new BusError(`bus ${this.name}: no device class "${type}" is registered (known: ${[...this.classes.keys()].join(', ') || 'none'})`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError('device.name', name, 'must be 1 to 64 characters of [A-Za-z0-9_.-]');
    if (this.entries.has(name)) throw new BusError(`bus ${this.name}: a device named "${name}" already exists`);
    checkConfigKeys(config, cls.configKeys, `device class "${type}"`);
    return this.add(cls, name, cls.validate(config));
  }

  private add(cls: DeviceClass<unknown>, name: string, checked: unknown): DeviceInfo {
    const entry = new DeviceEntry(this, name, cls, checked);
    entry.device = cls.create(checked, this.contextFor(entry));
    this.entries.set(name, entry);
    this.emit('device-added', entry.info());
    return entry.info();
  }

  /** Unplug a device: its connections close, then it releases its resources. */
  removeDevice(name: string): void {
    const entry = this.entry(name);
    this.entries.delete(name);
    entry.removed = true;
    entry.cancelTimers();
    for (const c of [...entry.connections]) c.hostClose('device removed');
    try {
      entry.device.release?.();
    } catch {
      /* a device that fails to release is gone anyway */
    }
    safeEmit(this, 'device-removed', entry.info());
  }

  /** Replace a failed device with a fresh instance of the same class and config. */
  resetDevice(name: string): DeviceInfo {
    const entry = this.entry(name);
    const { deviceClass, config } = entry;
    this.removeDevice(name);
    // the config was validated when the device was created; a validator need not accept its own output
    const info = this.add(deviceClass, name, config);
    // the same device to its users: the final snapshots of its connections carry over
    const fresh = this.entry(name);
    fresh.closed = entry.closed;
    fresh.closedDropped = entry.closedDropped;
    return info;
  }

  /** The devices a guest can see. */
  devices(): DeviceInfo[] {
    return [...this.entries.values()].map((e) => e.info());
  }

  /** The device instance (for embedders and tests). */
  device<T extends Device = Device>(name: string): T {
    return this.entry(name).device as T;
  }

  /** State and error of a device. */
  status(name: string): { state: DeviceState; error: VbusError | null } {
    const e = this.entry(name);
    return { state: e.state, error: e.error };
  }

  /** Connect a guest to a device. Used by connectors. */
  connect(name: string, attachment: GuestAttachment): HostConnection {
    const entry = this.entry(name);
    if (entry.state === 'failed') throw new BusError(`device ${name} on bus ${this.name} has failed (${entry.error?.message}); reset it first`);
    const max = this.currentLimits.connectionsPerDevice;
    if (entry.connections.size >= max) {
      entry.refused.connectionsPerDevice++;
      throw new LimitError('connectionsPerDevice', entry.connections.size + 1, max, `connect to ${name} on bus ${this.name} by ${attachment.guest}`);
    }
    const conn = new HostConnection(entry, attachment);
    conn.bind(entry.device.open({ id: conn.id, memory: attachment.memory }));
    entry.connections.add(conn);
    safeEmit(this, 'connect', name, conn.id, attachment.guest);
    return conn;
  }

  /** Everything about this bus, as vbus showed in sysfs. */
  introspect(): BusSnapshot {
    return {
      name: this.name,
      devices: [...this.entries.values()].map((e) => ({
        ...e.info(),
        error: e.error?.message ?? null,
        refused: { ...e.refused },
        attributes: e.device.attributes(),
        counters: e.device.counters(),
        connections: [...e.connections].map((c) => c.snapshot()),
        closedConnections: e.closed.map((c) => structuredClone(c)),
        closedDropped: e.closedDropped,
      })),
    };
  }

  /**
   * Read and forget the final snapshots of device `name`'s closed connections (oldest first):
   * the counters of a worker guest that exited, kept until read. Until then, and up to the
   * `closedConnectionsKept` limit, they are also in {@link introspect}.
   */
  takeClosedConnections(name: string): ConnectionSnapshot[] {
    const e = this.entry(name);
    const taken = e.closed;
    e.closed = [];
    return taken;
  }

  private entry(name: string): DeviceEntry {
    const e = this.entries.get(name);
    if (!e) throw new BusError(`bus ${this.name}: no device named "${name}"`);
    return e;
  }

  private contextFor(entry: DeviceEntry): DeviceContextImpl {
    const ctx = new DeviceContextImpl({
      name: entry.name,
      scheduler: this.scheduler,
      clock: this.clock,
      logger: this.logger,
      fail: (error) => entry.fail(error),
      live: () => entry.live,
    });
    entry.context = ctx;
    return ctx;
  }
}
