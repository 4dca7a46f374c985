/** The virtio transport on the bus: register interface over `call`, queue signals over `shm`. */
export * from './transport-abi.js';
export { VirtioDeviceConnection, type QueueCounters } from './virtio-transport.js';
export type { QueueSlot } from './queue-slot.js';
export type { VirtioDeviceSpec } from './virtio-device-spec.js';
export { VirtioTransportClient } from './transport-client.js';
