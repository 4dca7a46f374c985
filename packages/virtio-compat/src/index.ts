/**
 * @vbus/virtio-compat: virtio on vbus. Virtqueues (split and packed, both halves), the virtio
 * transport over the bus's `call`/`shm` verbs, and the virtio-net device class and driver.
 * @module @vbus/virtio-compat
 */
export * from './common/virtqueue/index.js';
export * from './common/transport/index.js';
export * from './common/net/index.js';
export { virtioNetModule } from './virtio-net-module.js';
