/** IPv4 addresses and headers (RFC 791), options not built. Fields are big-endian. */
import { le } from '@vbus/core';
import { internetChecksum } from './checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV4, etherType, writeEthernetHeader } from './ethernet.js';

/** IPv4 header without options: ver/ihl u8 + tos u8 + len u16 + id u16 + frag u16 + ttl u8 + proto u8 + csum u16 + src[4] + dst[4]. */
export const IPV4_HLEN = 20;

/** IP protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** Parse a dotted-quad IPv4 address into 4 bytes; throws a TypeError when it is not one. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    out[i] = Number(p);
  }
  return out;
}

/** Format 4 bytes at `offset` as a dotted quad. */
export function formatIpv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/** An IPv4 address at `offset` as an unsigned 32-bit number. */
export function ipv4ToU32(b: Uint8Array, offset = 0): number {
  return le.getBE32(b, offset);
}

/** Whether two IPv4 addresses (4 bytes each) are in the same subnet of the given prefix length. */
export function sameSubnet(a: Uint8Array, b: Uint8Array, prefixLength: number): boolean {
  if (prefixLength <= 0) return true;
  const mask = prefixLength >= 32 ? 0xffffffff : (0xffffffff << (32 - prefixLength)) >>> 0;
  return (ipv4ToU32(a) & mask) >>> 0 === (ipv4ToU32(b) & mask) >>> 0;
}

/** A parsed IPv4 header; offsets are into the frame. */
export interface Ipv4Header {
  /** Offset of the IP header in the frame. */
  offset: number;
  headerLength: number;
  totalLength: number;
  id: number;
  /** Don't-fragment, more-fragments flags and fragment offset in 8-byte units. */
  dontFragment: boolean;
  moreFragments: boolean;
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Whether the header checksum is right. */
  checksumOk: boolean;
  /** Offset of the payload in the frame, and its length (from the total length, not the frame). */
  payloadOffset: number;
  payloadLength: number;
}

/** Parse the IPv4 header of an Ethernet frame, or `undefined` if it is not a well-formed IPv4 packet. */
export function parseIpv4Frame(frame: Uint8Array): Ipv4Header | undefined {
  if (etherType(frame) !== ETHERTYPE_IPV4 || frame.length < ETH_HLEN + IPV4_HLEN) return undefined;
  const o = ETH_HLEN;
  const vihl = frame[o]!;
  const ihl = (vihl & 0x0f) * 4;
  const total = le.getBE16(frame, o + 2);
  if (vihl >> 4 !== 4 || ihl < IPV4_HLEN || total < ihl || o + total > frame.length) return undefined;
  const frag = le.getBE16(frame, o + 6);
  return {
    offset: o,
    headerLength: ihl,
    totalLength: total,
    id: le.getBE16(frame, o + 4),
    dontFragment: (frag & 0x4000) !== 0,
    moreFragments: (frag & 0x2000) !== 0,
    fragmentOffset: frag & 0x1fff,
    ttl: frame[o + 8]!,
    protocol: frame[o + 9]!,
    src: frame.slice(o + 12, o + 16),
    dst: frame.slice(o + 16, o + 20),
    checksumOk: internetChecksum(frame, o, o + ihl) === 0,
    payloadOffset: o + ihl,
    payloadLength: total - ihl,
  };
}

/** Fields for {@link buildIpv4Frame}. */
export interface Ipv4FrameSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  protocol: number;
  /** The L4 bytes (header and data). */
  payload: Uint8Array;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
  tos?: number;
}

/** Build an Ethernet+IPv4 frame around an L4 payload; the IP header checksum is filled in. */
export function buildIpv4Frame(s: Ipv4FrameSpec): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + IPV4_HLEN + s.payload.length);
  writeEthernetHeader(f, s.dstMac, s.srcMac, ETHERTYPE_IPV4);
  const o = ETH_HLEN;
  f[o] = 0x45;
  f[o + 1] = s.tos ?? 0;
  le.setBE16(f, o + 2, IPV4_HLEN + s.payload.length);
  le.setBE16(f, o + 4, s.id ?? 0);
  le.setBE16(f, o + 6, s.dontFragment === false ? 0 : 0x4000);
  f[o + 8] = s.ttl ?? 64;
  f[o + 9] = s.protocol;
  f.set(s.srcIp.subarray(0, 4), o + 12);
  f.set(s.dstIp.subarray(0, 4), o + 16);
  le.setBE16(f, o + 10, internetChecksum(f, o, o + IPV4_HLEN));
  f.set(s.payload, o + IPV4_HLEN);
  return f;
}
