import { EventEmitter } from 'eventemitter3';
import { BusError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { Side } from '../signal/layout.js';
import { ShmSignal } from '../signal/shm-signal.js';
import type { DeviceInfo } from '../bus/introspection.js';
import { SignalRouter, type SignalLink } from '../bus/signal-router.js';

/** Events of a {@link GuestConnection}. */
export interface GuestConnectionEvents {
  /** Emitted once when the connection closes, with the reason (guest close, device failed, host gone). */
  close: (reason: string) => void;
}

/**
 * What a guest (driver) holds after opening a device: the same interface over every connector,
 * so driver code runs unchanged in one thread, in a worker, or in virtual time. Notifications are
 * eventemitter3 events ({@link GuestConnectionEvents}): `conn.once('close', (reason) => ...)`.
 */
export interface GuestConnection extends Pick<EventEmitter<GuestConnectionEvents>, 'on' | 'once' | 'off'> {
  readonly device: DeviceInfo;
  /** The guest's own memory (where it lays out rings and buffers). */
  readonly memory: GuestMemory;
  readonly closed: boolean;
  /** The `call` verb. */
  call(func: number, data?: Uint8Array): Promise<Uint8Array>;
  /**
   * The `shm` verb: share `[address, address+length)` under the device-defined `id`. With
   * `signalAddress` (a formatted shm-signal descriptor, e.g. an IOQ's embedded one), returns the
   * guest's (north) endpoint of that signal, wired to wake the device.
   */
  shm(id: number, address: number, length: number, signalAddress?: number): Promise<ShmSignal | undefined>;
  close(): Promise<void>;
  /**
   * Run `fn` later in the guest's own context (a driver's poll continuation, like NAPI). In
   * process it goes through the connector's scheduler, so it runs in virtual time when simulated.
   */
  defer(fn: () => void): void;
}

/** What a guest sees of a bus. */
export interface GuestBus {
  devices(): Promise<DeviceInfo[]>;
  open(name: string): Promise<GuestConnection>;
}

/** The control half a connector supplies: how verbs reach the host. */
export interface ControlChannel {
  call(func: number, data: Uint8Array): Promise<Uint8Array>;
  /** Returns the signal slot the host assigned, or -1. */
  shm(id: number, address: number, length: number, signalAddress: number | undefined): Promise<number>;
  close(): Promise<void>;
}

/** @internal The connector-independent guest side of a connection. */
export class GuestConnectionImpl extends EventEmitter<GuestConnectionEvents> implements GuestConnection {
  /** Guest (north) endpoints; the connector dispatches the host's rings here. */
  readonly router: SignalRouter;
  private isClosed = false;

  constructor(
    readonly device: DeviceInfo,
    readonly memory: GuestMemory,
    private readonly control: ControlChannel,
    private readonly toHost: SignalLink,
    private readonly deferFn: (fn: () => void) => void = queueMicrotask,
  ) {
    super();
    // A guest handler that throws is the driver's bug: close this connection with the error
    // as the reason instead of letting it escape into the event loop.
    this.router = new SignalRouter((error, slot) => {
      const msg = error instanceof Error ? error.message : String(error);
      void this.control.close().catch(() => {});
      this.closedBy(`guest signal handler for slot ${slot} threw: ${msg}`);
    }, deferFn);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  call(func: number, data: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    if (this.isClosed) return Promise.reject(new BusError(`call on ${this.device.name}: connection is closed`));
    return this.control.call(func, data);
  }

  async shm(id: number, address: number, length: number, signalAddress?: number): Promise<ShmSignal | undefined> {
    if (this.isClosed) throw new BusError(`shm on ${this.device.name}: connection is closed`);
    let signal: ShmSignal | undefined;
    if (signalAddress !== undefined) {
      // Build the north endpoint first: this checks the descriptor before the host sees it.
      signal = new ShmSignal(ShmSignal.cellsAt(this.memory, signalAddress), Side.North, () => {}, `${this.device.name}.shm${id}`);
    }
    const slot = await this.control.shm(id, address, length, signalAddress);
    if (signal) {
      const link = this.toHost;
      signal.wake = () => link.ring(slot);
      this.router.set(slot, signal);
    }
    return signal;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    await this.control.close();
    this.closedBy('closed by guest');
  }

  defer(fn: () => void): void {
    this.deferFn(fn);
  }

  /** @internal the connector reports that the connection is gone. */
  closedBy(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.router.clear();
    try {
      this.emit('close', reason);
    } catch (error) {
      // a listener's error must not break the connector's close path; it surfaces on its own task
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
