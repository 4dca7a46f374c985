/**
 * @vbus/venet: the venet paravirtual NIC (device and guest driver). The host side it plugs into
 * (backends, switch, offload, packet codec) is `@vbus/net`, shared with virtio-net.
 * @module @vbus/venet
 */
export * from './common/abi/venet-abi.js';
export { venetGsoToFrame, frameGsoToVenet } from './common/abi/venet-gso.js';
export { VenetDeviceClass } from './common/device/venet-device-class.js';
export { VenetDevice } from './common/device/venet-device.js';
export { VenetConnection, VENET_HOST_CAPS } from './common/device/venet-connection.js';
export type { VenetQueueCounters, VenetStats, VenetRxDrops, VenetConnectionContext } from './common/device/venet-context.js';
export { validateVenetConfig, type VenetConfig, type VenetConfigInput } from './common/device/venet-config.js';
export { VenetDriver } from './common/driver/venet-driver.js';
export type { VenetDriverOptions, VenetDriverCounters, VenetSendOptions } from './common/driver/venet-driver-options.js';
export { venetModule } from './venet-module.js';
