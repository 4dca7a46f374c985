/**
 * Virtqueues (OASIS virtio 1.2 §2.7 split, §2.8 packed), both halves. Devices code against
 * {@link VirtqueueDevice}, drivers against {@link VirtqueueDriver}; either ring layout fits.
 */
export * from './layout.js';
export * from './descriptor.js';
export { DescriptorChain, ChainReader, ChainWriter } from './descriptor-chain.js';
export {
  USED_PUBLISH_BATCH,
  AVAIL_PUBLISH_BATCH,
  type VirtqueueOptions,
  type VirtqueueDevice,
  type VirtqueueDriver,
  type UsedBuffer,
  type UsedTokenSink,
  type AddOptions,
} from './virtqueue.js';
export type { SplitQueueAddresses, SplitQueueState } from './split-ring.js';
export { SplitQueueDevice, type SplitQueueDeviceConfig } from './split-queue-device.js';
export { SplitQueueDriver, type SplitQueueDriverConfig } from './split-queue-driver.js';
export type { PackedQueueAddresses, PackedQueueState } from './packed-ring.js';
export { PackedQueueDevice, type PackedQueueDeviceConfig } from './packed-queue-device.js';
export { PackedQueueDriver, type PackedQueueDriverConfig } from './packed-queue-driver.js';
