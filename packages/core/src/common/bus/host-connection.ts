import { BusError, LimitError, withFaultContext } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { Side } from '../signal/layout.js';
import { ShmSignal } from '../signal/shm-signal.js';
import { safeEmit } from './bus-events.js';
import type { DeviceConnectionHandler } from './device.js';
import type { DeviceEntry } from './device-entry.js';
import type { ConnectionSnapshot, RegionSnapshot } from './introspection.js';
import { MAX_SIGNALS_PER_CONNECTION, SignalRouter, type SignalLink } from './signal-router.js';

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

/**
 * The host's half of one guest-to-device connection: the verbs arrive here, are checked, and
 * are passed to the device's handler.
 */
export class HostConnection {
  /** Counted per Vbus from 1, in the order connections were made (same run, same ids). */
  readonly id: number;
  /** Host (south) signal endpoints; the connector dispatches the guest's rings here. */
  readonly router: SignalRouter;
  private readonly regions: RegionSnapshot[] = [];
  private readonly signals: ShmSignal[] = [];
  private handler: DeviceConnectionHandler | undefined;
  private open = true;

  /** @internal made by {@link Bus.connect} */
  constructor(
    readonly device: DeviceEntry,
    readonly attachment: GuestAttachment,
  ) {
    this.id = device.bus.ids.nextConnection();
    const scheduler = device.bus.scheduler;
    this.router = new SignalRouter(
      // a handler that threw on a guest's signal: name the device, this connection and the queue
      (error, slot) => device.fail(withFaultContext(error, { device: device.name, connection: this.id, queue: this.regions.find((r) => r.slot === slot)?.id ?? -1 })),
      attachment.defer ?? ((fn) => scheduler.schedule(fn)),
    );
  }

  /** @internal the device's handler, set once the device accepted the connection */
  bind(handler: DeviceConnectionHandler): void {
    this.handler = handler;
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
    return await this.handler!.call(func, data);
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
    this.handler!.shm({ id, connection: this.id, address, length, memory: this.attachment.memory, signal });
    if (signal) {
      this.router.add(signal);
      this.signals.push(signal);
    }
    this.regions.push({ id, address, length, slot: slot < 0 ? null : slot });
    return slot;
  }

  /**
   * Close from the guest's side. Never throws: the connection is gone from the device whatever
   * the device's close handler or a `disconnect` listener does. Its final snapshot stays in the
   * device's introspection (`closedConnections`).
   */
  close(reason = 'closed by guest'): void {
    if (!this.open) return;
    this.open = false;
    const final = this.snapshot(reason);
    this.router.clear();
    // off the device's list first, so a fail() raised by the handler below does not come back here
    this.device.connections.delete(this);
    try {
      this.handler?.close();
    } catch (error) {
      this.device.fail(withFaultContext(error, { device: this.device.name, connection: this.id }));
    }
    this.device.keepClosed(final);
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

  /** Introspection of this connection; `closed` is the reason once it closed. */
  snapshot(closed: string | null = null): ConnectionSnapshot {
    let counters = {};
    try {
      counters = this.handler?.counters?.() ?? {};
    } catch {
      /* a device whose counters throw shows none; introspection never throws */
    }
    return {
      id: this.id,
      guest: this.attachment.guest,
      regions: this.regions.map((r) => ({ ...r })),
      signals: this.signals.map((s, slot) => ({ slot, region: this.regions.find((r) => r.slot === slot)?.id ?? -1, ...s.counters, kicks: this.router.deliveries(slot) })),
      counters,
      closed,
    };
  }

  private assertOpen(verb: string): void {
    if (!this.open) throw new BusError(`${verb} on ${this.device.name}: connection ${this.id} is closed`);
  }
}
