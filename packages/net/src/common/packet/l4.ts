/** Finding the L4 header behind IPv4 or IPv6, and filling or checking its checksum. */
import { le } from '@vbus/core';
import { internetChecksum, pseudoSumV4, pseudoSumV6 } from './checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, etherType } from './ethernet.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN } from './ipv4.js';
import { IPV6_HLEN } from './ipv6.js';
import { UDP_HLEN } from './udp.js';

/** Location of the L4 header of an IPv4 or IPv6 frame (no IPv6 extension headers). */
export interface L4Location {
  ipVersion: 4 | 6;
  ipOffset: number;
  protocol: number;
  l4Offset: number;
  /** L4 length according to the IP header. */
  l4Length: number;
}

/** Find the L4 header of an IPv4/IPv6 frame, or `undefined` if the IP header is malformed. */
export function locateL4(frame: Uint8Array): L4Location | undefined {
  const type = etherType(frame);
  const o = ETH_HLEN;
  if (type === ETHERTYPE_IPV4) {
    if (frame.length < o + IPV4_HLEN || frame[o]! >> 4 !== 4) return undefined;
    const ihl = (frame[o]! & 0x0f) * 4;
    const total = le.getBE16(frame, o + 2);
    if (ihl < IPV4_HLEN || total < ihl || o + total > frame.length) return undefined;
    return { ipVersion: 4, ipOffset: o, protocol: frame[o + 9]!, l4Offset: o + ihl, l4Length: total - ihl };
  }
  if (type === ETHERTYPE_IPV6) {
    if (frame.length < o + IPV6_HLEN || frame[o]! >> 4 !== 6) return undefined;
    const plen = le.getBE16(frame, o + 4);
    if (o + IPV6_HLEN + plen > frame.length) return undefined;
    return { ipVersion: 6, ipOffset: o, protocol: frame[o + 6]!, l4Offset: o + IPV6_HLEN, l4Length: plen };
  }
  return undefined;
}

/** The unfolded pseudo-header sum for the L4 segment at `loc`. */
export function pseudoSum(frame: Uint8Array, loc: L4Location): number {
  return loc.ipVersion === 4 ? pseudoSumV4(frame, loc.ipOffset, loc.protocol, loc.l4Length) : pseudoSumV6(frame, loc.ipOffset, loc.protocol, loc.l4Length);
}

/** Offset of the checksum field within a TCP, UDP or ICMP header, or -1 for another protocol. */
export function l4ChecksumOffset(protocol: number): number {
  if (protocol === IPPROTO_TCP) return 16;
  if (protocol === IPPROTO_UDP) return 6;
  if (protocol === IPPROTO_ICMP) return 2;
  return -1;
}

/**
 * Verify the checksums of an IPv4/IPv6 frame carrying TCP, UDP or ICMP (v4). Returns
 * `undefined` when the frame is not such a packet. A zero UDP checksum over IPv4 counts as valid.
 */
export function verifyChecksums(frame: Uint8Array): { ip: boolean; l4: boolean } | undefined {
  const loc = locateL4(frame);
  if (!loc) return undefined;
  const ip = loc.ipVersion === 6 || internetChecksum(frame, loc.ipOffset, loc.l4Offset) === 0;
  const end = loc.l4Offset + loc.l4Length;
  if (loc.protocol === IPPROTO_ICMP && loc.ipVersion === 4) {
    return { ip, l4: internetChecksum(frame, loc.l4Offset, end) === 0 };
  }
  if (loc.protocol === IPPROTO_UDP && loc.ipVersion === 4 && loc.l4Length >= UDP_HLEN && le.getBE16(frame, loc.l4Offset + 6) === 0) {
    return { ip, l4: true };
  }
  if (loc.protocol !== IPPROTO_TCP && loc.protocol !== IPPROTO_UDP) return undefined;
  return { ip, l4: internetChecksum(frame, loc.l4Offset, end, pseudoSum(frame, loc)) === 0 };
}

/**
 * Compute and store the full L4 checksum (TCP/UDP over IPv4/IPv6, ICMP over IPv4) of a frame in
 * place. Returns false if the frame is not such a packet.
 */
export function fillL4Checksum(frame: Uint8Array): boolean {
  const loc = locateL4(frame);
  if (!loc) return false;
  const off = l4ChecksumOffset(loc.protocol);
  if (off < 0 || loc.l4Length < off + 2) return false;
  const at = loc.l4Offset + off;
  frame[at] = 0;
  frame[at + 1] = 0;
  const initial = loc.protocol === IPPROTO_ICMP ? 0 : pseudoSum(frame, loc);
  let c = internetChecksum(frame, loc.l4Offset, loc.l4Offset + loc.l4Length, initial);
  if (c === 0 && loc.protocol === IPPROTO_UDP) c = 0xffff;
  le.setBE16(frame, at, c);
  return true;
}
