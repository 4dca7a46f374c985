import 'reflect-metadata';
import { inject, injectable, multiInject, optional } from 'inversify';
import { BusError, ConfigError } from '../errors.js';
import { Scheduler } from '../time/scheduler.js';
import { MicrotaskScheduler } from '../time/microtask-scheduler.js';
import { Clock } from '../time/clock.js';
import { ConsoleLogger, Logger } from '../log/logger.js';
import { RandomSource, cryptoRandomSource } from './random-source.js';
import { DeviceClass } from './device.js';
import { Bus, VbusIds } from './bus.js';
import type { BusSnapshot } from './introspection.js';

/**
 * The root object: the registered device classes and the buses. The inversify container builds
 * it ({@link createVbus}): every {@link DeviceClass} the plugins' modules bound, and the services
 * bound in the container, each of which an embedder rebinds: {@link Scheduler}, {@link Clock},
 * {@link RandomSource}, {@link Logger}. `new Vbus(classes)` works too, with the defaults (a
 * {@link MicrotaskScheduler} that is also the clock, crypto randomness, a {@link ConsoleLogger}).
 */
@injectable()
export class Vbus {
  private readonly classes = new Map<string, DeviceClass<unknown>>();
  private readonly buses = new Map<string, Bus>();
  private readonly ids = new VbusIds();
  /** The clock of every bus made with the Vbus's scheduler (default: that scheduler). */
  readonly clock: Clock;

  constructor(
    @multiInject(DeviceClass) @optional() classes: Iterable<DeviceClass<unknown>> = [],
    @inject(Scheduler) @optional() readonly scheduler: Scheduler = new MicrotaskScheduler(),
    @inject(Clock) @optional() clock?: Clock,
    /** Where randomness comes from; device classes take their own from the container. */
    @inject(RandomSource) @optional() readonly random: RandomSource = cryptoRandomSource,
    @inject(Logger) @optional() readonly logger: Logger = new ConsoleLogger(),
  ) {
    this.clock = clock ?? scheduler;
    for (const c of classes) {
      if (this.classes.has(c.type)) throw new BusError(`device class "${c.type}" is registered twice`);
      // a plain-JavaScript plugin gets no compile-time check: say what is missing here, not at createDevice
      if (!Array.isArray(c.configKeys) || c.configKeys.some((k) => typeof k !== 'string'))
        throw new ConfigError('configKeys', c.configKeys, `device class "${c.type}" must list its config keys (an array of strings, [] if it takes none)`);
      this.classes.set(c.type, c);
    }
  }

  /** The registered device classes. */
  deviceClasses(): Array<{ type: string; version: number; description: string }> {
    return [...this.classes.values()].map(({ type, version, description }) => ({ type, version, description }));
  }

  /**
   * Make a bus. With its own `scheduler`, the bus's deferred and timed work runs there and its
   * devices read that scheduler's clock; otherwise it shares the Vbus's scheduler and clock.
   */
  createBus(name: string, scheduler?: Scheduler): Bus {
    if (this.buses.has(name)) throw new BusError(`a bus named "${name}" already exists`);
    const services = { scheduler: scheduler ?? this.scheduler, clock: scheduler ?? this.clock, logger: this.logger, ids: this.ids };
    const bus = new Bus(name, this.classes, services);
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
