import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { Vbus } from './bus.js';
import { DeviceClass } from './device.js';
import { MicrotaskScheduler, Scheduler } from './scheduler.js';

/** Inversify token of the {@link Vbus} root object. */
export const VbusToken = Symbol.for('vbus-ts.Vbus');

/**
 * Build a container, load the plugins' modules into it, and return the {@link Vbus} made from
 * every device class they bound. An embedder that has its own container passes it in and may
 * bind its own {@link Scheduler} first.
 */
export function createVbus(options: { modules?: ContainerModule[]; container?: Container; scheduler?: Scheduler } = {}): { vbus: Vbus; container: Container } {
  const container = options.container ?? new Container();
  if (options.modules?.length) container.load(...options.modules);
  if (options.scheduler) container.bind<Scheduler>(Scheduler).toConstantValue(options.scheduler);
  else if (!container.isBound(Scheduler)) container.bind<Scheduler>(Scheduler).toConstantValue(new MicrotaskScheduler());
  const classes = container.isBound(DeviceClass) ? container.getAll<DeviceClass<unknown>>(DeviceClass) : [];
  const vbus = new Vbus(classes, container.get<Scheduler>(Scheduler));
  container.bind<Vbus>(VbusToken).toConstantValue(vbus);
  return { vbus, container };
}
