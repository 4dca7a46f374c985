/** @vbus/core/node: the worker connector (host and guest halves). @module @vbus/core/node */
export { WorkerConnector, type WorkerGuest, type WorkerConnectorEvents, type WorkerConnectorSnapshot, type GuestRefusals } from './worker-connector.js';
export { connectWorkerGuest, type WorkerGuestRuntime, type WorkerGuestOptions } from './worker-guest.js';
export { nodeModule, WorkerConnectorFactory } from './node-module.js';
