/**
 * @vbus/core/browser: the worker connector for browsers. The page runs the bus and spawns guests
 * in Web Workers ({@link WebWorkerConnector}); each guest calls {@link connectWebWorkerGuest}.
 * Same protocol, doorbell and limits as `@vbus/core/node`'s worker connector; the page must be
 * cross-origin isolated (SharedArrayBuffer).
 * @packageDocumentation
 */
export { WebWorkerConnector, type WebWorkerGuest, type WebWorkerConnectorEvents } from './web-worker-connector.js';
export { connectWebWorkerGuest, type WebWorkerGuestOptions, type WebWorkerGuestRuntime } from './web-worker-guest.js';
