import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import { inject, injectable, multiInject, optional } from 'inversify';
import { BusError, ConfigError, LimitError, VbusError } from '../errors.js';
import { checkLimits, DEFAULT_BUS_LIMITS, type BusLimits } from './limits.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { Side } from '../signal/layout.js';
import { ShmSignal } from '../signal/shm-signal.js';
import { DeviceClass, type Attributes, type Counters, type Device, type DeviceConnectionHandler, type DeviceContext } from './device.js';
import { MicrotaskScheduler, Scheduler } from './scheduler.js';
import { MAX_SIGNALS_PER_CONNECTION, SignalRouter, type SignalLink } from './signal-router.js';

/** A device's lifecycle state. */
export type DeviceState = 'ready' | 'failed';

/** What a guest learns about a device when it enumerates a bus. */
export interface DeviceInfo {
  readonly name: string;
  readonly type: string;
  readonly version: number;
  readonly state: DeviceState;
}

/** Introspection of one connection. */
export interface ConnectionSnapshot {
  id: number;
  guest: string;
  regions: Array<{ id: number; address: number; length: number; slot: number | null }>;
  signals: Array<{ slot: number; injected: number; suppressed: number; handlerRuns: number; wakeups: number }>;
  counters: Counters;
}
/** Introspection of one device. */
export interface DeviceSnapshot extends DeviceInfo {
  error: string | null;
  /** Requests refused by a bus limit ({@link BusLimits}), per limit. */
  refused: DeviceRefusals;
  attributes: Attributes;
  counters: Counters;
  connections: ConnectionSnapshot[];
}
/** Counts of requests to one device refused by a {@link BusLimits} limit. */
export interface DeviceRefusals {
  connectionsPerDevice: number;
  shmPerConnection: number;
  callBytes: number;
}
/** Introspection of one bus. */
export interface BusSnapshot {
  name: string;
  devices: DeviceSnapshot[];
}

/** Events of a {@link Bus}. */
export interface BusEvents {
  /** A device was created on the bus. */
  'device-added': (info: DeviceInfo) => void;
  /** A device was removed from the bus. */
  'device-removed': (info: DeviceInfo) => void;
  /** A device broke a rule (a hostile ring, a fault in its code): it is marked failed and its connections close; the rest of the bus goes on. */
  'device-failed': (info: DeviceInfo, error: VbusError) => void;
  /** A guest opened a connection to `device`. */
  connect: (device: string, connectionId: number, guest: string) => void;
  /** A connection to `device` closed, and why. */
  disconnect: (device: string, connectionId: number, reason: string) => void;
}

/** What a connector hands the bus when a guest connects. */
export interface GuestAttachment {
  /** The guest's name (for introspection), e.g. `"worker 3"`. */
  readonly guest: string;
  /** The guest's memory as this (host) thread sees it. */
  readonly memory: GuestMemory;
  /** How host endpoints wake guest endpoints. */
  readonly toGuest: SignalLink;
  /** Told when the host side closes the connection (device unplugged or failed). */
  readonly onClosed: (reason: string) => void;
  /**
   * How host-side work for this guest is deferred (an endpoint that hit its wakeup bound
   * re-dispatches through it). Default: the bus's scheduler. The worker connector uses a
   * macrotask so a guest that storms signals cannot starve the event loop.
   */
  readonly defer?: (fn: () => void) => void;
}

let nextConnectionId = 1;

/**
 * The host's half of one guest-to-device connection: the verbs arrive here, are checked, and
 * are passed to the device's handler.
 */
export class HostConnection {
  readonly id = nextConnectionId++;
  /** Host (south) signal endpoints; the connector dispatches the guest's rings here. */
  readonly router: SignalRouter;
  private readonly regions: ConnectionSnapshot['regions'] = [];
  private readonly signals: ShmSignal[] = [];
  private open = true;

  /** @internal made by {@link Bus.connect} */
  constructor(
    readonly device: DeviceEntry,
    readonly attachment: GuestAttachment,
    readonly handler: DeviceConnectionHandler,
  ) {
    const scheduler = device.bus.scheduler;
    this.router = new SignalRouter(
      (error) => device.fail(error),
      attachment.defer ?? ((fn) => scheduler.schedule(fn)),
    );
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** The `call` verb. Errors reach the guest as a rejected call; the device stays up. */
  async call(func: number, data: Uint8Array): Promise<Uint8Array> {
    this.assertOpen('call');
    if (!Number.isInteger(func) || func < 0 || func > 0xffff_ffff) throw new BusError(`call on ${this.device.name}: function number ${func} is not a u32`);
    const max = this.device.bus.limits.callBytes;
    if (data.length > max) {
      this.device.refused.callBytes++;
      throw new LimitError('callBytes', data.length, max, `call ${func} on ${this.device.name}`);
    }
    return await this.handler.call(func, data);
  }

  /**
   * The `shm` verb: the guest shares `[address, address+length)` under the device-defined `id`,
   * with an shm-signal descriptor at `signalAddress` if given. Returns the signal's slot on this
   * connection (or -1), which the guest uses for its own endpoint.
   */
  shm(id: number, address: number, length: number, signalAddress?: number): number {
    this.assertOpen('shm');
    const where = `shm ${id} on ${this.device.name}`;
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) throw new BusError(`${where}: id must be a u32`);
    if (!this.attachment.memory.contains(address, length) || length <= 0)
      throw new BusError(`${where}: region 0x${Number(address).toString(16)}+${length} is not inside the guest's registered memory`);
    if (this.regions.some((r) => r.id === id)) throw new BusError(`${where}: id ${id} is already registered on this connection`);
    const max = this.device.bus.limits.shmPerConnection;
    if (this.regions.length >= max) {
      this.device.refused.shmPerConnection++;
      throw new LimitError('shmPerConnection', this.regions.length + 1, max, where);
    }
    let signal: ShmSignal | undefined;
    let slot = -1;
    if (signalAddress !== undefined) {
      if (signalAddress % 4 !== 0 || !this.attachment.memory.contains(signalAddress, 32))
        throw new BusError(`${where}: signal descriptor at 0x${Number(signalAddress).toString(16)} is not 4-aligned inside guest memory`);
      if (this.router.full) throw new BusError(`${where}: a connection carries at most ${MAX_SIGNALS_PER_CONNECTION} signals`);
      const cells = ShmSignal.cellsAt(this.attachment.memory, signalAddress);
      slot = this.router.size;
      const link = this.attachment.toGuest;
      const s = slot;
      signal = new ShmSignal(cells, Side.South, () => link.ring(s), `${this.device.name}.shm${id}`);
    }
    // the device sees the region first; only a region it accepted is recorded and routed, so a
    // refused shm leaves the connection exactly as it was
    this.handler.shm({ id, address, length, memory: this.attachment.memory, signal });
    if (signal) {
      this.router.add(signal);
      this.signals.push(signal);
    }
    this.regions.push({ id, address, length, slot: slot < 0 ? null : slot });
    return slot;
  }

  /**
   * Close from the guest's side. Never throws: the connection is gone from the device whatever
   * the device's close handler or a `disconnect` listener does.
   */
  close(reason = 'closed by guest'): void {
    if (!this.open) return;
    this.open = false;
    this.router.clear();
    // off the device's list first, so a fail() raised by the handler below does not come back here
    this.device.connections.delete(this);
    try {
      this.handler.close();
    } catch (error) {
      this.device.fail(error);
    }
    safeEmit(this.device.bus, 'disconnect', this.device.name, this.id, reason);
  }

  /**
   * Close from the host's side: also tells the guest. Never throws: the connector's notice
   * (which may ring a doorbell the guest supplied) cannot break the host's close.
   */
  hostClose(reason: string): void {
    if (!this.open) return;
    this.close(reason);
    try {
      this.attachment.onClosed(reason);
    } catch {
      /* the guest cannot be told; it is disconnected all the same */
    }
  }

  /** The connection as introspection shows it: id, guest, device, registered queues and signal counters. */
  snapshot(): ConnectionSnapshot {
    return {
      id: this.id,
      guest: this.attachment.guest,
      regions: this.regions.map((r) => ({ ...r })),
      signals: this.signals.map((s, slot) => ({ slot, ...s.counters })),
      counters: this.handler.counters?.() ?? {},
    };
  }

  private assertOpen(verb: string): void {
    if (!this.open) throw new BusError(`${verb} on ${this.device.name}: connection ${this.id} is closed`);
  }
}

/** @internal A device on a bus with its state. */
export class DeviceEntry {
  state: DeviceState = 'ready';
  error: VbusError | null = null;
  readonly connections = new Set<HostConnection>();
  readonly refused: DeviceRefusals = { connectionsPerDevice: 0, shmPerConnection: 0, callBytes: 0 };
  device!: Device;

  constructor(
    readonly bus: Bus,
    readonly name: string,
    readonly deviceClass: DeviceClass<unknown>,
    readonly config: unknown,
  ) {}

  info(): DeviceInfo {
    return { name: this.name, type: this.deviceClass.type, version: this.deviceClass.version, state: this.state };
  }

  /**
   * Mark failed, close every connection, tell listeners. Never throws: each close is guarded
   * on its own (one connection's throwing handler or doorbell cannot keep the others open), and
   * `device-failed` is always emitted.
   */
  fail(error: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.error = VbusError.is(error) ? error : new BusError(`device ${this.name} failed: ${describe(error)}`, { cause: error });
    const reason = `device failed: ${this.error.message}`;
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

/** A message for any thrown value, without calling into it beyond reading `message`. */
function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be printed';
  }
}

/**
 * Emit an event; a listener that throws does not reach the code that raised the event (a
 * failure path must finish). The listener's error is rethrown on its own task, where the
 * embedder's uncaught-exception handling sees it, as for any of its own callbacks.
 */
function safeEmit<E extends keyof BusEvents>(bus: Bus, event: E, ...args: Parameters<BusEvents[E]>): void {
  try {
    (bus.emit as (e: E, ...a: Parameters<BusEvents[E]>) => boolean)(event, ...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * A bus instance (vbus's "container"): devices live on it, and guests connect to them. Created by
 * {@link Vbus.createBus}. Faults stay inside the device that caused them.
 */
export class Bus extends EventEmitter<BusEvents> {
  private readonly entries = new Map<string, DeviceEntry>();
  private currentLimits: BusLimits = DEFAULT_BUS_LIMITS;

  /** @internal use {@link Vbus.createBus} */
  constructor(
    readonly name: string,
    private readonly classes: ReadonlyMap<string, DeviceClass<unknown>>,
    readonly scheduler: Scheduler,
  ) {
    super();
  }

  /** The limits in force ({@link DEFAULT_BUS_LIMITS} unless set). */
  get limits(): BusLimits {
    return this.currentLimits;
  }

  /** Change some limits (the others keep their values); a bad value is a ConfigError and changes nothing. */
  setLimits(limits: Partial<BusLimits>): void {
    this.currentLimits = checkLimits('bus.limits', this.currentLimits, limits);
  }

  /** Hot-plug a device of class `type` named `name` with `config` (checked by the class). */
  createDevice(type: string, name: string, config: unknown = {}): DeviceInfo {
    const cls = this.classes.get(type);
    if (!cls) throw new BusError(`bus ${this.name}: no device class "${type}" is registered (known: ${[...this.classes.keys()].join(', ') || 'none'})`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError('device.name', name, 'must be 1 to 64 characters of [A-Za-z0-9_.-]');
    if (this.entries.has(name)) throw new BusError(`bus ${this.name}: a device named "${name}" already exists`);
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
    return this.add(deviceClass, name, config);
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
    let conn!: HostConnection;
    const handler = entry.device.open({
      get id() {
        return conn.id;
      },
      memory: attachment.memory,
    });
    conn = new HostConnection(entry, attachment, handler);
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
      })),
    };
  }

  private entry(name: string): DeviceEntry {
    const e = this.entries.get(name);
    if (!e) throw new BusError(`bus ${this.name}: no device named "${name}"`);
    return e;
  }

  private contextFor(entry: DeviceEntry): DeviceContext {
    const scheduler = this.scheduler;
    return {
      name: entry.name,
      fail: (error) => entry.fail(error),
      defer: (fn) =>
        scheduler.schedule(() => {
          if (entry.state === 'failed') return;
          try {
            fn();
          } catch (error) {
            entry.fail(error);
          }
        }),
    };
  }
}

/**
 * The root object: the registered device classes and the buses. The inversify container builds
 * it ({@link createVbus}): every {@link DeviceClass} the plugins' modules bound, and the
 * {@link Scheduler} bound in the container (an embedder rebinds it). `new Vbus(classes)` works too.
 */
@injectable()
export class Vbus {
  private readonly classes = new Map<string, DeviceClass<unknown>>();
  private readonly buses = new Map<string, Bus>();

  constructor(
    @multiInject(DeviceClass) @optional() classes: Iterable<DeviceClass<unknown>> = [],
    @inject(Scheduler) @optional() readonly scheduler: Scheduler = new MicrotaskScheduler(),
  ) {
    for (const c of classes) {
      if (this.classes.has(c.type)) throw new BusError(`device class "${c.type}" is registered twice`);
      this.classes.set(c.type, c);
    }
  }

  /** The registered device classes. */
  deviceClasses(): Array<{ type: string; version: number; description: string }> {
    return [...this.classes.values()].map(({ type, version, description }) => ({ type, version, description }));
  }

  /** Create a bus named `name` (unique in this Vbus); its signals run on `scheduler` (default: the container's Scheduler). */
  createBus(name: string, scheduler: Scheduler = this.scheduler): Bus {
    if (this.buses.has(name)) throw new BusError(`a bus named "${name}" already exists`);
    const bus = new Bus(name, this.classes, scheduler);
    this.buses.set(name, bus);
    return bus;
  }

  /** The bus named `name`; throws a BusError if there is none. */
  bus(name: string): Bus {
    const b = this.buses.get(name);
    if (!b) throw new BusError(`no bus named "${name}"`);
    return b;
  }

  /** Remove a bus and every device on it. */
  destroyBus(name: string): void {
    const b = this.bus(name);
    for (const d of b.devices()) b.removeDevice(d.name);
    this.buses.delete(name);
  }

  /** Every device class and every bus with its devices and connections, as plain data (like sysfs). */
  introspect(): { classes: ReturnType<Vbus['deviceClasses']>; buses: BusSnapshot[] } {
    return { classes: this.deviceClasses(), buses: [...this.buses.values()].map((b) => b.introspect()) };
  }
}
