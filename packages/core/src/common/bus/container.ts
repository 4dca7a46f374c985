import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { Vbus } from './vbus.js';
import { Scheduler } from '../time/scheduler.js';
import { MicrotaskScheduler } from '../time/microtask-scheduler.js';
import { Clock } from '../time/clock.js';
import { ConsoleLogger, Logger } from '../log/logger.js';
import { RandomSource, cryptoRandomSource } from './random-source.js';

/** Inversify token of the {@link Vbus} root object. */
export const VbusToken = Symbol.for('vbus-ts.Vbus');

/** What {@link createVbus} takes. */
export interface CreateVbusOptions {
  /** Plugins' modules (device classes, backends) loaded into the container. */
  modules?: ContainerModule[];
  /** The embedder's container, with its own bindings made first (default: a new one). */
  container?: Container;
  /** The scheduler to bind (replacing one bound in `container`); also the Clock unless one is bound. */
  scheduler?: Scheduler;
}

/**
 * Build a container, load the plugins' modules into it, and return the {@link Vbus} the container
 * makes from every device class they bound. The replaceable services are bound here unless the
 * embedder bound them first in its own container:
 * - {@link Scheduler}: `options.scheduler`, else a {@link MicrotaskScheduler} (real time);
 * - {@link Clock}: the bound Scheduler itself, so time read and time scheduled agree (under a
 *   `VirtualTimeScheduler` every clock reading is virtual);
 * - {@link RandomSource}: crypto (device classes draw default MACs from it; bind a seeded one
 *   for reproducible runs);
 * - {@link Logger}: a {@link ConsoleLogger} writing warnings and errors.
 */
export function createVbus(options: CreateVbusOptions = {}): { vbus: Vbus; container: Container } {
  const container = options.container ?? new Container();
  if (options.modules?.length) container.load(...options.modules);
  if (options.scheduler) {
    if (container.isCurrentBound(Scheduler)) container.unbind(Scheduler);
    container.bind<Scheduler>(Scheduler).toConstantValue(options.scheduler);
  } else if (!container.isBound(Scheduler)) container.bind<Scheduler>(Scheduler).toConstantValue(new MicrotaskScheduler());
  if (!container.isBound(Clock)) container.bind<Clock>(Clock).toService(Scheduler);
  if (!container.isBound(RandomSource)) container.bind<RandomSource>(RandomSource).toConstantValue(cryptoRandomSource);
  if (!container.isBound(Logger)) container.bind<Logger>(Logger).toConstantValue(new ConsoleLogger());
  if (!container.isBound(VbusToken)) container.bind<Vbus>(VbusToken).to(Vbus).inSingletonScope();
  return { vbus: container.get<Vbus>(VbusToken), container };
}
