import { ContainerModule } from 'inversify';
import type { Bus } from '../common/bus/bus.js';
import { WorkerConnector } from './worker-connector.js';

/** Makes the worker connector of a bus (guests in worker threads reach the bus through it). */
export type WorkerConnectorFactory = (bus: Bus, options?: { pollBudgetUs?: number }) => WorkerConnector;

/** Inversify token of the {@link WorkerConnectorFactory}. */
export const WorkerConnectorFactory = Symbol.for('vbus-ts.WorkerConnectorFactory');

/**
 * The Node environment's module: binds the worker connector's factory, so an embedder (or a test)
 * rebinds it to wrap or replace the connector without touching the code that spawns guests.
 */
export const nodeModule = new ContainerModule((options) => {
  options.bind<WorkerConnectorFactory>(WorkerConnectorFactory).toConstantValue((bus, connectorOptions) => new WorkerConnector(bus, connectorOptions));
});
