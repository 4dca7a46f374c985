/**
 * The virtio transport on the bus: the register interface of a virtio device (what PCI's
 * common configuration structure is to a virtio-pci device, OASIS virtio 1.2 §4.1.4.3), carried
 * by the bus's `call` verb. Every argument and reply is little-endian. Rings are shared with the
 * `shm` verb: queue k is registered under shm id k with an shm-signal descriptor (kicks go south,
 * used-buffer notifications north); configuration-change notifications use the dedicated id
 * {@link VIRTIO_SHM_CONFIG}.
 */

/** call: read the device status. Reply: status u32. */
export const VIRTIO_CALL_GET_STATUS = 0;
/** call: write the device status `{status u32}`; 0 resets the device. Reply: the status now (u32). */
export const VIRTIO_CALL_SET_STATUS = 1;
/** call: read one 32-bit word of the device features `{select u32}` (0: bits 0..31, 1: bits 32..63). Reply: u32. */
export const VIRTIO_CALL_GET_DEVICE_FEATURES = 2;
/** call: write one 32-bit word of the driver features `{select u32, value u32}`. Reply: empty. */
export const VIRTIO_CALL_SET_DRIVER_FEATURES = 3;
/** call: read device-specific configuration `{offset u32, length u32}`. Reply: the bytes. */
export const VIRTIO_CALL_READ_CONFIG = 4;
/** call: write device-specific configuration `{offset u32}` followed by the bytes. Reply: empty. */
export const VIRTIO_CALL_WRITE_CONFIG = 5;
/** call: select a queue `{index u32}`. Reply: `{maxSize u32}` (0: no such queue). */
export const VIRTIO_CALL_QUEUE_SELECT = 6;
/** call: set the selected queue's size `{size u32}`. Reply: empty. */
export const VIRTIO_CALL_QUEUE_SET_SIZE = 7;
/**
 * call: set the selected queue's ring areas `{desc u64, driver u64, device u64}`: split rings
 * descriptor table, available ring, used ring; packed rings descriptor ring, driver event
 * suppression area, device event suppression area. Reply: empty.
 */
export const VIRTIO_CALL_QUEUE_SET_ADDR = 8;
/** call: enable the selected queue (its shm must be registered first). Reply: empty. */
export const VIRTIO_CALL_QUEUE_ENABLE = 9;
/** call: reset the device (same as writing status 0). Reply: empty. */
export const VIRTIO_CALL_RESET = 10;
/** call: number of queues the device has. Reply: u32. */
export const VIRTIO_CALL_NUM_QUEUES = 11;
/** call: configuration generation (changes when the device changes its config). Reply: u32. */
export const VIRTIO_CALL_CONFIG_GENERATION = 12;
/** call: the error that set DEVICE_NEEDS_RESET, as UTF-8 text (empty if none). */
export const VIRTIO_CALL_GET_ERROR = 13;

/**
 * call: set where the selected queue starts `{nextAvail u32, nextUsed u32}` (u16 ring indices; split
 * rings only), applied when it is enabled: how a vhost-user back end resumes a ring the front
 * end stopped (SET_VRING_BASE). Reply: empty.
 */
export const VIRTIO_CALL_QUEUE_SET_STATE = 14;
/** call: a live split queue's position `{index u32}`. Reply: `{nextAvail u32, nextUsed u32}` (GET_VRING_BASE). */
export const VIRTIO_CALL_QUEUE_GET_STATE = 15;

/** shm id of the configuration-change signal (region: the signal's own descriptor, 32 bytes). */
export const VIRTIO_SHM_CONFIG = 0xffff;

/** Encode u32 words as a little-endian argument. */
export function u32Args(...words: number[]): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(4 * i, w >>> 0, true));
  return out;
}
