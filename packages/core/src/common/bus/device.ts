import type { GuestMemory } from '../memory/guest-memory.js';
import type { ShmSignal } from '../signal/shm-signal.js';
import type { Cancel } from '../time/scheduler.js';
import type { Logger } from '../log/logger.js';

/** Plain values shown by introspection (vbus put these in sysfs). */
export type Attributes = Record<string, string | number | boolean>;
/** Counters shown by introspection, grouped (e.g. `{ rx: {...}, tx: {...} }`). */
export type Counters = Record<string, Record<string, number> | number>;

/**
 * Counters of one queue (a ring the guest shared) of a device, as devices keep them for
 * introspection: venet per device across connections, the virtio transport per connection.
 */
export interface QueueCounters {
  /** Buffers the device completed: frames, events on an event queue, commands. */
  frames: number;
  /** Bytes of those buffers (frame bytes, without ring or header overhead). */
  bytes: number;
  /** Frames the device had to drop (rx: no buffer, too big, link down; tx: the backend refused or there is none). */
  drops: number;
  /** Notifications (kicks) the guest sent on this queue. */
  kicks: number;
  /** Notifications the device sent that crossed to the guest. */
  interrupts: number;
  /** Notifications the device did not send: the guest masked them, or one was pending. */
  suppressed: number;
}

/** Fresh zeroed {@link QueueCounters}. */
export function newQueueCounters(): QueueCounters {
  return { frames: 0, bytes: 0, drops: 0, kicks: 0, interrupts: 0, suppressed: 0 };
}

/**
 * A shared-memory region a guest registered on a connection with the `shm` verb, as the device
 * receives it: the bytes live in `memory` at `[address, address+length)` (checked to lie in the
 * guest's memory), and `signal`, if the guest gave one, is the device's (south) endpoint, already
 * wired to wake the guest.
 */
export interface ShmRegistration {
  /** The device-defined id the guest gave (venet: RX 0, TX 1...). */
  readonly id: number;
  /** The connection's id (per Vbus), for naming rings in errors: `${ctx.name}.c${connection}.q${id}`. */
  readonly connection: number;
  readonly address: number;
  readonly length: number;
  /** The guest's memory as the host sees it. */
  readonly memory: GuestMemory;
  /** South endpoint of the region's signal; its `handler` is the device's to set. */
  readonly signal: ShmSignal | undefined;
}

/**
 * The device's half of one connection. The bus calls these when the guest uses the verbs.
 * Throwing from `call` fails only the call (the guest gets the error); a device that detects a
 * broken ABI reports it with {@link DeviceContext.fail}.
 */
export interface DeviceConnectionHandler {
  /** The `call` verb: a device-defined function number and its argument bytes; returns the reply bytes. */
  call(func: number, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The `shm` verb: the guest shares a region (a ring) with an optional signal. */
  shm(reg: ShmRegistration): void;
  /** The connection is going away (guest closed it, guest died, device unplugged or failed). */
  close(): void;
  /** Per-connection counters for introspection. */
  counters?(): Counters;
}

/** What the bus gives a device. */
export interface DeviceContext {
  /** The device's name on its bus. */
  readonly name: string;
  /**
   * Put the device in the failed state with this error: its connections are closed, the bus
   * emits `device-failed`, and the bus and other devices go on. Never throws.
   */
  fail(error: unknown): void;
  /**
   * Schedule work off the signal path (a device's bottom half): the bus's scheduler runs it
   * soon. Dropped if the device has failed or left the bus by then; an exception fails the device.
   */
  defer(fn: () => void): void;
  /**
   * Like {@link defer}, but after the bus's loop turned once (the scheduler's `nextTurn`): how a
   * device keeps polling a ring for a few turns before it unmasks its signal, so that a guest
   * streaming frames finds it still polling instead of paying for a wakeup. Dropped if the
   * device has failed or left the bus by then; an exception fails the device.
   */
  nextTurn(fn: () => void): void;
  /**
   * Run `fn` once `delayMs` milliseconds of the bus's clock have passed (virtual time under a
   * `VirtualTimeScheduler`): a device's timer (tx-complete mitigation, a link's latency, a
   * retry). Cancelled when the device fails, is removed or is reset; an exception fails the
   * device. Returns its {@link Cancel}; a device that has already failed gets one that does nothing.
   */
  after(delayMs: number, fn: () => void): Cancel;
  /** The bus's clock, in milliseconds (the Clock bound in the container, or the bus's scheduler). */
  now(): number;
  /** The bus's logger: what the device reports but does not throw. */
  readonly logger: Logger;
}

/** A device instance on a bus. */
export interface Device {
  /** The device class's type string, e.g. `"virtual-ethernet"`. */
  readonly type: string;
  /** A guest opened the device: return the handler of that connection. */
  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler;
  /** Read-only facts about the device for introspection (its MAC, ring sizes, the class's config). */
  attributes(): Attributes;
  /** Counters for introspection (frames, drops, signals). */
  counters(): Counters;
  /** Unplugged from its bus: release what it holds (backend ports). */
  release?(): void;
}

/**
 * The config each device class takes, by type string: a plugin declares its class's entry by
 * augmenting this interface, and `Bus.createDevice` is typed by it (an object literal with a
 * misspelt key is then a compile error too):
 *
 * ```ts
 * declare module '@vbus/core' {
 *   interface DeviceConfigs { 'frame-counter': { every?: number } }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- empty on purpose: plugins add entries by declaration merging
export interface DeviceConfigs {}

/** The config `Bus.createDevice` takes for device type `K`: its {@link DeviceConfigs} entry, else anything. */
export type DeviceConfigOf<K extends string> = K extends keyof DeviceConfigs ? DeviceConfigs[K] : unknown;

/**
 * A device class: what a plugin registers. `TConfig` is the checked configuration of a device,
 * `TInput` the config object a user writes (its keys are {@link configKeys}).
 * Bind implementations to the {@link DeviceClass} token in a ContainerModule.
 */
export interface DeviceClass<TConfig = unknown, TInput extends object = Record<string, unknown>> {
  /** Type string, unique on a bus (e.g. `"virtual-ethernet"`, `"virtio-net"`). */
  readonly type: string;
  /** ABI version of the device class. */
  readonly version: number;
  /** One line for introspection. */
  readonly description: string;
  /**
   * Every key a config may have. `Bus.createDevice` refuses any other key with a ConfigError
   * naming it and this class, before {@link validate} runs.
   */
  readonly configKeys: readonly (keyof TInput & string)[];
  /** Check and fill in a config. Throw {@link "@vbus/core"!ConfigError} on a bad value. */
  validate(config: unknown): TConfig;
  /** Make a device from a config that {@link DeviceClass.validate} returned; `context` names it and reports its failure. */
  create(config: TConfig, context: DeviceContext): Device;
}

/** Inversify token under which plugins bind their device classes (multi-bound). */
export const DeviceClass = Symbol.for('vbus-ts.DeviceClass');
