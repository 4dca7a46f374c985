/**
 * @vbus/venet: the venet paravirtual NIC (device and guest driver). The host side it plugs into
 * (backends, switch, offload, packet codec) is `@vbus/net`, shared with virtio-net.
 * @packageDocumentation
 */
export * from './common/abi/venet-abi.js';
export { venetGsoToFrame, frameGsoToVenet } from './common/abi/venet-gso.js';
export { VenetDeviceClass, VenetDevice, VenetConnection, VENET_HOST_CAPS, type VenetQueueCounters } from './common/device/venet-device.js';
export { validateVenetConfig, type VenetConfig, type VenetConfigInput } from './common/device/venet-config.js';
export { VenetDriver, type VenetDriverOptions, type VenetDriverCounters, type VenetSendOptions } from './common/driver/venet-driver.js';
export { venetModule } from './venet-module.js';
