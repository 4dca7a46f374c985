/** virtio-net: the device class (host) and the guest driver, over the virtio transport. */
export * from './virtio-net-abi.js';
export { VirtioNetDeviceClass, VirtioNetDevice, type VirtioNetConfigInput } from './virtio-net-device.js';
export { VirtioNetConnection } from './virtio-net-connection.js';
export { VIRTIO_NET_SUPPORTED_FEATURES, VIRTIO_NET_MAX_FRAME, type VirtioNetConfig } from './virtio-net-config.js';
export { VirtioNetDriver, VIRTIO_NET_DRIVER_FEATURES, type VirtioNetDriverOptions, type VirtioNetDriverCounters } from './virtio-net-driver.js';
