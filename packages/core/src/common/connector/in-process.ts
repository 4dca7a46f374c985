import type { Bus } from '../bus/bus.js';
import type { HostConnection } from '../bus/host-connection.js';
import type { Scheduler } from '../time/scheduler.js';
import type { VirtualTimeScheduler } from '../time/virtual-time-scheduler.js';
import type { SignalLink, SignalRouter } from '../bus/signal-router.js';
import { BusError, ConfigError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { GuestConnectionImpl, type ControlChannel, type GuestBus, type GuestConnection } from './guest-connection.js';

/**
 * A control channel whose verbs cross through `scheduler`: the host runs the verb one task later,
 * and its reply (value or error) reaches the guest one task after that.
 */
function throughScheduler(control: ControlChannel, scheduler: Scheduler, trace?: (verb: 'call' | 'shm' | 'close') => void): ControlChannel {
  const cross = <T>(verb: 'call' | 'shm' | 'close', run: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      scheduler.schedule(() => {
        trace?.(verb);
        let reply: Promise<T>;
        try {
          reply = run();
        } catch (error) {
          reply = Promise.reject(error);
        }
        reply.then(
          (value) => scheduler.schedule(() => resolve(value)),
          (error: unknown) => scheduler.schedule(() => reject(error)),
        );
      });
    });
  return {
    call: (func, data) => cross('call', () => control.call(func, data)),
    shm: (id, address, length, signalAddress) => cross('shm', () => control.shm(id, address, length, signalAddress)),
    close: () => cross('close', () => control.close()),
  };
}

/**
 * A link that hands each ring's delivery to `run`: the scheduler (a microtask by default, or an
 * embedder's virtual time) or {@link DirectDelivery}. Rings to one slot that arrive before its
 * delivery ran collapse into one (the shm-signal's pending flag already makes that rare).
 */
class QueuedLink implements SignalLink {
  private readonly deliver: Array<() => void> = [];
  private readonly queued: boolean[] = [];
  constructor(
    private readonly run: (fn: () => void) => void,
    private readonly router: () => SignalRouter | undefined,
    private readonly trace?: (slot: number) => void,
  ) {}
  ring(slot: number): void {
    if (this.queued[slot]) return;
    this.queued[slot] = true;
    let fn = this.deliver[slot];
    if (!fn) {
      fn = () => {
        this.queued[slot] = false;
        this.trace?.(slot);
        this.router()?.dispatch(slot);
      };
      this.deliver[slot] = fn;
    }
    this.run(fn);
  }
}

/** Deliveries one outermost ring may run before the rest wait for the scheduler (a chain of echoes must not hold the thread). */
const DIRECT_BUDGET = 256;

/**
 * Synchronous delivery with run-to-completion, shared by every direct-delivery connection on one
 * scheduler: a ring made outside any handler runs its handler at once, inside `inject()`; a ring
 * made while a handler runs (the device answering, the driver replying, another connection the
 * frame reached) is queued and runs when that handler returns, before the outermost `inject()`
 * returns. No handler ever runs nested inside another, as with the scheduler; what goes is the
 * hop through the microtask queue per signal. Past {@link DIRECT_BUDGET} deliveries in a row the
 * rest continue through the scheduler (its turn budget then applies).
 */
class DirectDelivery {
  private static readonly perScheduler = new WeakMap<Scheduler, DirectDelivery>();
  private busy = false;
  private queue: Array<() => void> = [];
  private head = 0;

  private constructor(private readonly scheduler: Scheduler) {}

  static of(scheduler: Scheduler): DirectDelivery {
    let d = DirectDelivery.perScheduler.get(scheduler);
    if (d === undefined) DirectDelivery.perScheduler.set(scheduler, (d = new DirectDelivery(scheduler)));
    return d;
  }

  run(fn: () => void): void {
    this.queue.push(fn);
    if (!this.busy) this.drain();
  }

  private readonly drain = (): void => {
    this.busy = true;
    // deliveries never throw (the router reports a handler's error); the queue ends either way
    for (let n = 0; this.head < this.queue.length; n++) {
      if (n === DIRECT_BUDGET) {
        // drop what ran: a chain that never ends would otherwise grow the array for ever
        this.queue = this.queue.slice(this.head);
        this.head = 0;
        this.scheduler.schedule(this.drain);
        return;
      }
      this.queue[this.head++]!();
    }
    this.queue.length = 0;
    this.head = 0;
    this.busy = false;
  };
}

/**
 * Connects a guest that runs in the same thread as the bus. Signals are delivered through the
 * bus's scheduler (microtask by default; a {@link VirtualTimeScheduler} makes it the simulated
 * connector, where nothing moves until the embedder steps time).
 */
export class InProcessConnector {
  constructor(
    readonly bus: Bus,
    readonly memory: GuestMemory,
    readonly options: {
      /** Name shown in introspection. */
      guest?: string;
      /** Overrides the bus's scheduler for this guest's signals. */
      scheduler?: Scheduler;
      /** Told of every delivered signal: direction and slot (the simulated connector records these). */
      trace?: (direction: 'to-guest' | 'to-host' | 'call' | 'shm' | 'close', slot: number, device: string) => void;
      /**
       * Carry the control verbs (call, shm, close) through the scheduler as well: the host sees a
       * verb one `schedule()` after the guest made it, and the guest its reply one more later, so
       * bringing a device up takes scheduler time and completes only as the embedder steps it
       * (the simulated connector does this; drive it with `runUntilSettled`). Default false:
       * verbs complete in microtasks.
       */
      verbsThroughScheduler?: boolean;
      /**
       * How signals reach the other side. `'scheduled'` (default): one `schedule()` later (a
       * microtask, or the embedder's virtual time). `'direct'`: synchronously, run to completion:
       * a ring made outside any handler runs its handler inside `inject()`, a ring made by a
       * handler runs when that handler returns (before the outermost `inject()` returns), so no
       * handler runs inside another. The lowest latency one thread has (a single-frame echo
       * without a microtask hop per signal); a driver must then expect its own handlers to run
       * inside its kick, so kick last in a send, as drivers here do.
       */
      delivery?: 'scheduled' | 'direct';
    } = {},
  ) {
    const delivery = options.delivery ?? 'scheduled';
    if (delivery !== 'scheduled' && delivery !== 'direct') throw new ConfigError('delivery', delivery, "must be 'scheduled' or 'direct'");
  }

  /** The guest's view of the bus. */
  guestBus(): GuestBus {
    return {
      devices: async () => this.bus.devices(),
      open: async (name) => this.open(name),
    };
  }

  /** Open device `name` and return the guest's connection. */
  open(name: string): GuestConnection {
    const scheduler = this.options.scheduler ?? this.bus.scheduler;
    const info = this.bus.devices().find((d) => d.name === name);
    if (!info) throw new BusError(`bus ${this.bus.name}: no device named "${name}"`);
    let guest: GuestConnectionImpl | undefined;
    let host: HostConnection | undefined;
    const trace = this.options.trace;
    const guestTrace = trace && ((slot: number) => trace('to-guest', slot, name));
    const hostTrace = trace && ((slot: number) => trace('to-host', slot, name));
    const direct = this.options.delivery === 'direct' ? DirectDelivery.of(scheduler) : undefined;
    const run = direct ? (fn: () => void) => direct.run(fn) : (fn: () => void) => scheduler.schedule(fn);
    const toGuest = new QueuedLink(run, () => guest?.router, guestTrace);
    const toHost = new QueuedLink(run, () => host?.router, hostTrace);
    host = this.bus.connect(name, {
      guest: this.options.guest ?? 'in-process',
      memory: this.memory,
      toGuest,
      onClosed: (reason) => guest?.closedBy(reason),
    });
    const h = host;
    const control: ControlChannel = {
      call: (func, data) => h.call(func, data),
      shm: async (id, address, length, signalAddress) => h.shm(id, address, length, signalAddress),
      close: async () => h.close(),
    };
    guest = new GuestConnectionImpl(
      info,
      this.memory,
      this.options.verbsThroughScheduler ? throughScheduler(control, scheduler, trace && ((verb) => trace(verb, -1, name))) : control,
      toHost,
      (fn) => scheduler.schedule(fn),
    );
    return guest;
  }
}

/**
 * The simulated connector: an in-process guest whose signals and control verbs travel in an
 * embedder's virtual time. Every signal delivery is recorded in {@link trace} as
 * `"<ns> <direction> <device> slot <n>"`, every verb as `"<ns> <verb> <device>"` when the host
 * runs it; two runs of the same scenario give the same trace, byte for byte. Verbs complete only
 * as the scheduler is stepped: bring a driver up with
 * `await runUntilSettled(vts, Driver.open(conn, ...))`.
 */
export class SimulatedConnector extends InProcessConnector {
  /** One line per signal delivered. */
  readonly trace: string[] = [];
  constructor(
    bus: Bus,
    memory: GuestMemory,
    readonly scheduler: VirtualTimeScheduler,
    guest = 'simulated',
  ) {
    super(bus, memory, {
      guest,
      scheduler,
      verbsThroughScheduler: true,
      trace: (direction, slot, device) => this.trace.push(slot < 0 ? `${scheduler.nowNs} ${direction} ${device}` : `${scheduler.nowNs} ${direction} ${device} slot ${slot}`),
    });
  }
}
