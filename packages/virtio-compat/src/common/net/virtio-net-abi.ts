/**
 * virtio-net ABI (OASIS virtio 1.2 §5.1): feature bits, the 12-byte header, the configuration
 * space, queue numbering and the control queue. Constants only, pinned by a test against
 * the specification's values.
 */

/** Device type string on the bus. */
export const VIRTIO_NET_TYPE = 'virtio-net';

// Feature bits (§5.1.3)
/** Device handles packets with a partial checksum (driver may send NEEDS_CSUM). */
export const VIRTIO_NET_F_CSUM = 0;
/** Driver handles packets with a partial checksum (device may send NEEDS_CSUM / DATA_VALID). */
export const VIRTIO_NET_F_GUEST_CSUM = 1;
/** Config `mtu` is valid. */
export const VIRTIO_NET_F_MTU = 3;
/** Config `mac` is valid. */
export const VIRTIO_NET_F_MAC = 5;
/** Feature bit 7: the driver takes TSO over IPv4. */
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
/** Feature bit 8: the driver takes TSO over IPv6. */
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
/** Feature bit 11: the device takes TSO over IPv4. */
export const VIRTIO_NET_F_HOST_TSO4 = 11;
/** Feature bit 12: the device takes TSO over IPv6. */
export const VIRTIO_NET_F_HOST_TSO6 = 12;
/** Driver can merge receive buffers (num_buffers). */
export const VIRTIO_NET_F_MRG_RXBUF = 15;
/** Config `status` is valid. */
export const VIRTIO_NET_F_STATUS = 16;
/** Control queue present. */
export const VIRTIO_NET_F_CTRL_VQ = 17;
/** Control queue: rx mode (promisc, allmulti). */
export const VIRTIO_NET_F_CTRL_RX = 18;
/** Feature bit 19: VLAN filtering through the control queue. */
export const VIRTIO_NET_F_CTRL_VLAN = 19;
/** Feature bit 21: the driver can send gratuitous packets when asked (ANNOUNCE). */
export const VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
/** Multiqueue with `max_virtqueue_pairs` pairs. */
export const VIRTIO_NET_F_MQ = 22;
/** Control queue: set the MAC address. */
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;

// Header (struct virtio_net_hdr_v1, §5.1.6): 12 bytes with VERSION_1
/** Offset of `flags` (u8, VIRTIO_NET_HDR_F_*). */
export const VIRTIO_NET_HDR_FLAGS = 0;
/** Offset of `gso_type` (u8, VIRTIO_NET_HDR_GSO_*). */
export const VIRTIO_NET_HDR_GSO_TYPE = VIRTIO_NET_HDR_FLAGS + 1;
/** Offset of `hdr_len` (u16). */
export const VIRTIO_NET_HDR_HDR_LEN = VIRTIO_NET_HDR_GSO_TYPE + 1;
/** Offset of `gso_size` (u16). */
export const VIRTIO_NET_HDR_GSO_SIZE = VIRTIO_NET_HDR_HDR_LEN + 2;
/** Offset of `csum_start` (u16). */
export const VIRTIO_NET_HDR_CSUM_START = VIRTIO_NET_HDR_GSO_SIZE + 2;
/** Offset of `csum_offset` (u16). */
export const VIRTIO_NET_HDR_CSUM_OFFSET = VIRTIO_NET_HDR_CSUM_START + 2;
/** Offset of `num_buffers` (u16). */
export const VIRTIO_NET_HDR_NUM_BUFFERS = VIRTIO_NET_HDR_CSUM_OFFSET + 2;
/** Header size: flags u8 + gso_type u8 + 5 × u16 = 12. */
export const VIRTIO_NET_HDR_SIZE = VIRTIO_NET_HDR_NUM_BUFFERS + 2;

/** Header flag: the checksum from csum_start at csum_offset must be completed. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 0x1;
/** Header flag (rx): the checksum was validated. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 0x2;
/** Header gso_type: not a GSO frame. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/** Header gso_type: TCP over IPv4. */
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** Header gso_type: UDP (fragmentation offload). */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
/** Header gso_type: TCP over IPv6. */
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** Header gso_type flag: the segments carry ECN. */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

// Configuration space (struct virtio_net_config, §5.1.4)
/** Offset of `mac` (6 bytes). */
export const VIRTIO_NET_CONFIG_MAC = 0;
/** Offset of `status` (u16, VIRTIO_NET_S_*). */
export const VIRTIO_NET_CONFIG_STATUS = VIRTIO_NET_CONFIG_MAC + 6;
/** Offset of `max_virtqueue_pairs` (u16). */
export const VIRTIO_NET_CONFIG_MAX_VQ_PAIRS = VIRTIO_NET_CONFIG_STATUS + 2;
/** Offset of `mtu` (u16). */
export const VIRTIO_NET_CONFIG_MTU = VIRTIO_NET_CONFIG_MAX_VQ_PAIRS + 2;
/** Size of the configuration space this device exposes: mac + status + pairs + mtu. */
export const VIRTIO_NET_CONFIG_SIZE = VIRTIO_NET_CONFIG_MTU + 2;
/** status bit: link up. */
export const VIRTIO_NET_S_LINK_UP = 1;
/** status bit: the driver should announce itself (gratuitous ARP). */
export const VIRTIO_NET_S_ANNOUNCE = 2;

/** Queue index of receive queue k (1-based): 2(k-1). */
export function rxQueueIndex(k: number): number {
  return 2 * (k - 1);
}
/** Queue index of transmit queue k (1-based): 2(k-1)+1. */
export function txQueueIndex(k: number): number {
  return 2 * (k - 1) + 1;
}
/** Queue index of the control queue with N pairs: 2N. */
export function ctrlQueueIndex(pairs: number): number {
  return 2 * pairs;
}

// Control queue (§5.1.6.5): {class u8, cmd u8} + data + ack u8
/** Size of the command header: class u8 + cmd u8. */
export const VIRTIO_NET_CTRL_HDR_SIZE = 2;
/** Control command ack: done. */
export const VIRTIO_NET_OK = 0;
/** Control command ack: failed. */
export const VIRTIO_NET_ERR = 1;
/** Class: receive filtering. Commands carry a u8 on/off. */
export const VIRTIO_NET_CTRL_RX = 0;
/** Control command of class RX: promiscuous mode (on/off). */
export const VIRTIO_NET_CTRL_RX_PROMISC = 0;
/** Control command of class RX: receive every multicast frame (on/off). */
export const VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
/** Class: MAC. */
export const VIRTIO_NET_CTRL_MAC = 1;
/** Control command of class MAC: set the unicast and multicast filter tables. */
export const VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
/** Command: set the MAC address (6 bytes). */
export const VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
/** Class: announce. */
export const VIRTIO_NET_CTRL_ANNOUNCE = 3;
/** Control command of class ANNOUNCE: the driver has announced itself. */
export const VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
/** Class: multiqueue. */
export const VIRTIO_NET_CTRL_MQ = 4;
/** Command: number of queue pairs in use (u16, 1..max_virtqueue_pairs). */
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;

/** The fields of a virtio-net header. */
export interface VirtioNetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  numBuffers: number;
}

/** Read a virtio-net header from `b` at byte `at` into `into` (no allocation) and return it. */
export function decodeNetHeader(b: Uint8Array, into: VirtioNetHeader, at = 0): VirtioNetHeader {
  // byte access, no DataView per header (this runs once per frame on both sides)
  if (!(at >= 0 && b.length - at >= VIRTIO_NET_HDR_SIZE)) throw new RangeError(`virtio-net header needs ${VIRTIO_NET_HDR_SIZE} bytes at ${at}, got ${b.length - at}`);
  into.flags = b[at + VIRTIO_NET_HDR_FLAGS]!;
  into.gsoType = b[at + VIRTIO_NET_HDR_GSO_TYPE]!;
  into.hdrLen = b[at + VIRTIO_NET_HDR_HDR_LEN]! | (b[at + VIRTIO_NET_HDR_HDR_LEN + 1]! << 8);
  into.gsoSize = b[at + VIRTIO_NET_HDR_GSO_SIZE]! | (b[at + VIRTIO_NET_HDR_GSO_SIZE + 1]! << 8);
  into.csumStart = b[at + VIRTIO_NET_HDR_CSUM_START]! | (b[at + VIRTIO_NET_HDR_CSUM_START + 1]! << 8);
  into.csumOffset = b[at + VIRTIO_NET_HDR_CSUM_OFFSET]! | (b[at + VIRTIO_NET_HDR_CSUM_OFFSET + 1]! << 8);
  into.numBuffers = b[at + VIRTIO_NET_HDR_NUM_BUFFERS]! | (b[at + VIRTIO_NET_HDR_NUM_BUFFERS + 1]! << 8);
  return into;
}

/** Write `h` as a 12-byte virtio-net header into `b`. */
export function encodeNetHeader(h: VirtioNetHeader, b: Uint8Array): void {
  if (b.length < VIRTIO_NET_HDR_SIZE) throw new RangeError(`virtio-net header needs ${VIRTIO_NET_HDR_SIZE} bytes, got ${b.length}`);
  b[VIRTIO_NET_HDR_FLAGS] = h.flags;
  b[VIRTIO_NET_HDR_GSO_TYPE] = h.gsoType;
  b[VIRTIO_NET_HDR_HDR_LEN] = h.hdrLen;
  b[VIRTIO_NET_HDR_HDR_LEN + 1] = h.hdrLen >>> 8;
  b[VIRTIO_NET_HDR_GSO_SIZE] = h.gsoSize;
  b[VIRTIO_NET_HDR_GSO_SIZE + 1] = h.gsoSize >>> 8;
  b[VIRTIO_NET_HDR_CSUM_START] = h.csumStart;
  b[VIRTIO_NET_HDR_CSUM_START + 1] = h.csumStart >>> 8;
  b[VIRTIO_NET_HDR_CSUM_OFFSET] = h.csumOffset;
  b[VIRTIO_NET_HDR_CSUM_OFFSET + 1] = h.csumOffset >>> 8;
  b[VIRTIO_NET_HDR_NUM_BUFFERS] = h.numBuffers;
  b[VIRTIO_NET_HDR_NUM_BUFFERS + 1] = h.numBuffers >>> 8;
}

/** A fresh header with every field zero (no offload). */
export function emptyNetHeader(): VirtioNetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 0 };
}
