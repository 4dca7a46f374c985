/**
 * ABI of the entropy device (OASIS virtio 1.2 §5.4) on the vbus virtio transport. The device is
 * the simplest virtio device there is: no device-specific feature bits (§5.4.3), no
 * configuration space (§5.4.4), one queue (§5.4.2) on which the driver posts device-writable
 * buffers and the device fills them with random bytes (§5.4.6).
 */

/** virtio device ID of the entropy source (§5 table "Device Types"): what a PCI or MMIO transport would expose. */
export const VIRTIO_ID_RNG = 4;
/** Device class type string on the bus. */
export const VIRTIO_RNG_TYPE = 'virtio-rng';
/** The only queue, `requestq` (§5.4.2). */
export const VIRTIO_RNG_QUEUE_REQUEST = 0;
/** Number of queues. */
export const VIRTIO_RNG_NUM_QUEUES = 1;
/** Bytes of device-specific configuration (§5.4.4: none). */
export const VIRTIO_RNG_CONFIG_SIZE = 0;
