/**
 * The VXLAN header (RFC 7348, section 5): 8 bytes after the outer UDP header, then the inner
 * Ethernet frame (no FCS).
 *
 * ```
 *  0               1               2               3
 * |R|R|R|R|I|R|R|R|            Reserved (24 bits)                 |   flags u8 + reserved u24
 * |                VNI (24 bits)                  |  Reserved u8  |   vni u24 + reserved u8
 * ```
 *
 * Receive rule: the RFC says the reserved bits "MUST be set to zero on transmission and ignored
 * on receipt"; Linux (drivers/net/vxlan, `vxlan_rcv`) instead drops a packet with any flag or
 * reserved bit it does not understand as malformed. We follow Linux: a datagram is accepted only
 * with exactly the I flag set and every reserved field zero. Pure and environment-neutral.
 */

/** The IANA-assigned UDP destination port of VXLAN (RFC 7348 section 5). */
export const VXLAN_PORT = 4789;
/** Header length: flags u8 + reserved u24 + vni u24 + reserved u8. */
export const VXLAN_HLEN = 8;
/** Offset of the flags byte. */
export const VXLAN_FLAGS_OFFSET = 0;
/** Size of the flags field. */
export const VXLAN_FLAGS_SIZE = 1;
/** Offset of the first reserved field (24 bits), after the flags. */
export const VXLAN_RESERVED1_OFFSET = VXLAN_FLAGS_OFFSET + VXLAN_FLAGS_SIZE;
/** Size of the first reserved field. */
export const VXLAN_RESERVED1_SIZE = 3;
/** Offset of the VNI (24 bits, big-endian). */
export const VXLAN_VNI_OFFSET = VXLAN_RESERVED1_OFFSET + VXLAN_RESERVED1_SIZE;
/** Size of the VNI. */
export const VXLAN_VNI_SIZE = 3;
/** Offset of the second reserved field (8 bits), after the VNI. */
export const VXLAN_RESERVED2_OFFSET = VXLAN_VNI_OFFSET + VXLAN_VNI_SIZE;
/** Size of the second reserved field. */
export const VXLAN_RESERVED2_SIZE = 1;
/** The I flag: the VNI is valid. It must be set; every other flag bit is reserved. */
export const VXLAN_FLAG_I = 0x08;
/** The largest VNI (24 bits). */
export const VXLAN_VNI_MAX = 0xffffff;
/** Ethernet header of the inner frame (no 802.1Q tag). */
const INNER_ETH_HLEN = 14;
/** UDP header. */
const UDP_HLEN = 8;
/**
 * What encapsulation adds over IPv4, counted the way Linux sizes a vxlan device's MTU: outer
 * IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 50. Inner MTU = outer MTU - 50.
 */
export const VXLAN_OVERHEAD_IPV4 = 20 + UDP_HLEN + VXLAN_HLEN + INNER_ETH_HLEN;
/** The same over IPv6: outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 70. */
export const VXLAN_OVERHEAD_IPV6 = 40 + UDP_HLEN + VXLAN_HLEN + INNER_ETH_HLEN;

/** Why a datagram is not a VXLAN packet we accept. */
export type VxlanHeaderProblem = 'runt' | 'flags' | 'reserved';

/** Write a VXLAN header for `vni` at `offset` of `buf` (which must have 8 bytes there). */
export function encodeVxlanHeader(buf: Uint8Array, offset: number, vni: number): void {
  if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_VNI_MAX) throw new RangeError(`VXLAN VNI must be an integer 0..${VXLAN_VNI_MAX}, got ${vni}`);
  if (!Number.isInteger(offset) || offset < 0 || offset + VXLAN_HLEN > buf.length)
    throw new RangeError(`no room for an 8-byte VXLAN header at offset ${offset} of ${buf.length} bytes`);
  buf[offset + VXLAN_FLAGS_OFFSET] = VXLAN_FLAG_I;
  buf[offset + VXLAN_RESERVED1_OFFSET] = 0;
  buf[offset + VXLAN_RESERVED1_OFFSET + 1] = 0;
  buf[offset + VXLAN_RESERVED1_OFFSET + 2] = 0;
  buf[offset + VXLAN_VNI_OFFSET] = (vni >>> 16) & 0xff;
  buf[offset + VXLAN_VNI_OFFSET + 1] = (vni >>> 8) & 0xff;
  buf[offset + VXLAN_VNI_OFFSET + 2] = vni & 0xff;
  buf[offset + VXLAN_RESERVED2_OFFSET] = 0;
}

/**
 * Check the VXLAN header at the start of a datagram. Returns the VNI, or the first problem:
 * `runt` (shorter than the header), `flags` (the I flag is clear), `reserved` (a reserved flag
 * bit or field is not zero). Never reads past `datagram.length`.
 */
export function decodeVxlanHeader(datagram: Uint8Array): { vni: number } | { problem: VxlanHeaderProblem } {
  if (datagram.length < VXLAN_HLEN) return { problem: 'runt' };
  const flags = datagram[VXLAN_FLAGS_OFFSET]!;
  if ((flags & VXLAN_FLAG_I) === 0) return { problem: 'flags' };
  if (
    flags !== VXLAN_FLAG_I ||
    datagram[VXLAN_RESERVED1_OFFSET]! !== 0 ||
    datagram[VXLAN_RESERVED1_OFFSET + 1]! !== 0 ||
    datagram[VXLAN_RESERVED1_OFFSET + 2]! !== 0 ||
    datagram[VXLAN_RESERVED2_OFFSET]! !== 0
  ) {
    return { problem: 'reserved' };
  }
  const vni = (datagram[VXLAN_VNI_OFFSET]! << 16) | (datagram[VXLAN_VNI_OFFSET + 1]! << 8) | datagram[VXLAN_VNI_OFFSET + 2]!;
  return { vni };
}
