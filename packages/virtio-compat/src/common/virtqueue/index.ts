/**
 * Virtqueues (OASIS virtio 1.2 §2.7 split, §2.8 packed), both halves. Devices code against
 * {@link VirtqueueDevice}, drivers against {@link VirtqueueDriver}; either ring layout fits.
 */
export * from './layout.js';
export * from './descriptor.js';
export { DescriptorChain, ChainReader, ChainWriter } from './descriptor-chain.js';
export type { VirtqueueOptions, VirtqueueDevice, VirtqueueDriver, UsedBuffer, AddOptions } from './virtqueue.js';
export {
  SplitQueueDevice,
  SplitQueueDriver,
  type SplitQueueAddresses,
  type SplitQueueState,
  type SplitQueueDeviceConfig,
  type SplitQueueDriverConfig,
} from './split-queue.js';
export {
  PackedQueueDevice,
  PackedQueueDriver,
  type PackedQueueAddresses,
  type PackedQueueState,
  type PackedQueueDeviceConfig,
  type PackedQueueDriverConfig,
} from './packed-queue.js';
