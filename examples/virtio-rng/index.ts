/**
 * The virtio-rng example plugin (OASIS virtio 1.2 §5.4): a virtio device other than net on the
 * generic virtio transport of @vbus/virtio-compat, written only against the packages' public API.
 * @packageDocumentation
 */
export * from './virtio-rng-abi.js';
export { VirtioRngDeviceClass, VirtioRngDevice, virtioRngModule, type VirtioRngConfig, type VirtioRngCounters } from './virtio-rng-device.js';
export { VirtioRngDriver, type VirtioRngDriverOptions } from './virtio-rng-driver.js';
export { seededRandomSource } from './seeded-random.js';
