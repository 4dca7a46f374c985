/**
 * @vbus/vhost-user/node: the vhost-user server on a unix socket and the native addon under it.
 * @module @vbus/vhost-user/node
 */
export { VhostUserServer, nativePlatform, type VhostUserServerOptions } from './server.js';
export { native, POLL_READABLE, POLL_WRITABLE, type VbusNative } from './native.js';
export { TapBackend, TUN_F_CSUM, type TapCounters, type TapOptions } from './tap-backend.js';
