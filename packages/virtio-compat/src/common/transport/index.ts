/** The virtio transport on the bus: register interface over `call`, queue signals over `shm`. */
export * from './transport-abi.js';
export { VirtioDeviceConnection, type QueueCounters, type QueueSlot, type VirtioDeviceSpec } from './virtio-transport.js';
export { VirtioTransportClient } from './transport-client.js';
