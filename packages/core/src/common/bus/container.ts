import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { Vbus } from './bus.js';
import { MicrotaskScheduler, Scheduler } from './scheduler.js';
import { RandomSource, cryptoRandomSource } from './random-source.js';

/** Inversify token of the {@link Vbus} root object. */
export const VbusToken = Symbol.for('vbus-ts.Vbus');

/**
 * Build a container, load the plugins' modules into it, and return the {@link Vbus} the container
 * makes from every device class they bound. The replaceable services are bound here unless the
 * embedder bound them first in its own container: the {@link Scheduler} (microtasks) and the
 * {@link RandomSource} (crypto; device classes draw default MACs from it).
 */
export function createVbus(options: { modules?: ContainerModule[]; container?: Container; scheduler?: Scheduler } = {}): { vbus: Vbus; container: Container } {
  const container = options.container ?? new Container();
  if (options.modules?.length) container.load(...options.modules);
  if (options.scheduler) container.bind<Scheduler>(Scheduler).toConstantValue(options.scheduler);
  else if (!container.isBound(Scheduler)) container.bind<Scheduler>(Scheduler).toConstantValue(new MicrotaskScheduler());
  if (!container.isBound(RandomSource)) container.bind<RandomSource>(RandomSource).toConstantValue(cryptoRandomSource);
  if (!container.isBound(VbusToken)) container.bind<Vbus>(VbusToken).to(Vbus).inSingletonScope();
  return { vbus: container.get<Vbus>(VbusToken), container };
}
