/**
 * Small pure helpers to build and parse Ethernet, ARP, IPv4, IPv6, ICMP, UDP and TCP, and the
 * internet checksum (RFC 1071). Used by the guest responder, by the software offload engine, by
 * tests and by the CLI. Builders allocate a fresh frame; parsers read in place and never throw
 * on short or malformed input (they return `undefined`).
 *
 * All multi-byte header fields are big-endian (network order).
 */
import { le } from '@vbus/core';

/** Ethernet header: dst[6] + src[6] + ethertype u16. */
export const ETH_HLEN = 14;
/** Ethernet address length. */
export const ETH_ALEN = 6;
/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;
/** ARP for Ethernet/IPv4: htype u16 + ptype u16 + hlen u8 + plen u8 + op u16 + sha[6] + spa[4] + tha[6] + tpa[4]. */
export const ARP_LEN = 28;
/** ARP operation: request. */
export const ARP_OP_REQUEST = 1;
/** ARP operation: reply. */
export const ARP_OP_REPLY = 2;
/** IPv4 header without options: ver/ihl u8 + tos u8 + len u16 + id u16 + frag u16 + ttl u8 + proto u8 + csum u16 + src[4] + dst[4]. */
export const IPV4_HLEN = 20;
/** IPv6 fixed header: ver/tc/flow u32 + payload len u16 + next header u8 + hop limit u8 + src[16] + dst[16]. */
export const IPV6_HLEN = 40;
/** IP protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;
/** ICMP echo header: type u8 + code u8 + csum u16 + id u16 + seq u16. */
export const ICMP_ECHO_HLEN = 8;
/** ICMP type of an echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMP type of an echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** UDP header: sport u16 + dport u16 + len u16 + csum u16. */
export const UDP_HLEN = 8;
/** TCP header without options: sport u16 + dport u16 + seq u32 + ack u32 + off/flags u16 + win u16 + csum u16 + urg u16. */
export const TCP_HLEN = 20;
/** TCP flag bits (low byte of the offset/flags word). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** The broadcast MAC address. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

// ---------------------------------------------------------------------------------------------
// Internet checksum

/**
 * Add bytes [start, end) to a running ones'-complement sum as 16-bit big-endian words (an odd
 * final byte is padded with zero). The result is not folded; pass it to {@link foldSum}.
 * Stays exact for any frame below 2^37 bytes.
 */
export function onesSum(b: Uint8Array, start: number, end: number, acc = 0): number {
  let sum = acc;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Fold a ones'-complement sum to 16 bits (end-around carry), not inverted. */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The internet checksum of bytes [start, end) plus `initial`: the inverted folded sum. */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  return ~foldSum(onesSum(b, start, end, initial)) & 0xffff;
}

/** The unfolded sum of an IPv4 pseudo-header (src, dst, zero, protocol, L4 length). */
export function pseudoSumV4(b: Uint8Array, ipOffset: number, protocol: number, l4Length: number): number {
  return onesSum(b, ipOffset + 12, ipOffset + 20, protocol + l4Length);
}

/** The unfolded sum of an IPv6 pseudo-header (src, dst, L4 length u32, next header). */
export function pseudoSumV6(b: Uint8Array, ipOffset: number, protocol: number, l4Length: number): number {
  return onesSum(b, ipOffset + 8, ipOffset + 40, protocol + (l4Length & 0xffff) + Math.floor(l4Length / 0x10000));
}

// ---------------------------------------------------------------------------------------------
// Addresses

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

/** Parse `aa:bb:cc:dd:ee:ff` (or with `-`) into 6 bytes; throws a TypeError when it is not a MAC. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`not a MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Format 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(b: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    if (i > 0) s += ':';
    s += (b[offset + i] ?? 0).toString(16).padStart(2, '0');
  }
  return s;
}

/** A MAC address at `offset` as a number below 2^48 (exact), for use as a map key. */
export function macToNumber(b: Uint8Array, offset = 0): number {
  return ((b[offset]! << 8) | b[offset + 1]!) * 0x1_0000_0000 + le.getBE32(b, offset + 2);
}

/** Whether the MAC at `offset` is a group (multicast or broadcast) address. */
export function isGroupMac(b: Uint8Array, offset = 0): boolean {
  return (b[offset]! & 1) === 1;
}

/** Whether two byte ranges of length `n` are equal. */
export function bytesEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** Whether two IPv4 addresses (4 bytes each) are in the same subnet of the given prefix length. */
export function sameSubnet(a: Uint8Array, b: Uint8Array, prefixLength: number): boolean {
  if (prefixLength <= 0) return true;
  const mask = prefixLength >= 32 ? 0xffffffff : (0xffffffff << (32 - prefixLength)) >>> 0;
  return ((ipv4ToU32(a) & mask) >>> 0) === ((ipv4ToU32(b) & mask) >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Ethernet

/** The EtherType of a frame, or -1 if it is shorter than an Ethernet header. */
export function etherType(frame: Uint8Array): number {
  return frame.length < ETH_HLEN ? -1 : le.getBE16(frame, 12);
}

/** Build an Ethernet frame: header followed by `payload`. */
export function buildEthernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  writeEthernetHeader(f, dst, src, type);
  f.set(payload, ETH_HLEN);
  return f;
}

/** Write an Ethernet header at the start of `frame`. */
export function writeEthernetHeader(frame: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  frame.set(dst.subarray(0, 6), 0);
  frame.set(src.subarray(0, 6), 6);
  le.setBE16(frame, 12, type);
}

// ---------------------------------------------------------------------------------------------
// ARP

/** A parsed Ethernet/IPv4 ARP packet (fields copied out of the frame). */
export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: Uint8Array;
  targetMac: Uint8Array;
  targetIp: Uint8Array;
}

/** Build a complete ARP frame. Requests go to broadcast unless `ethDst` says otherwise. */
export function buildArpFrame(p: ArpPacket, ethDst?: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + ARP_LEN);
  writeEthernetHeader(f, ethDst ?? (p.op === ARP_OP_REQUEST ? BROADCAST_MAC : p.targetMac), p.senderMac, ETHERTYPE_ARP);
  const o = ETH_HLEN;
  le.setBE16(f, o, 1); // htype Ethernet
  le.setBE16(f, o + 2, ETHERTYPE_IPV4);
  f[o + 4] = 6;
  f[o + 5] = 4;
  le.setBE16(f, o + 6, p.op);
  f.set(p.senderMac.subarray(0, 6), o + 8);
  f.set(p.senderIp.subarray(0, 4), o + 14);
  f.set(p.targetMac.subarray(0, 6), o + 18);
  f.set(p.targetIp.subarray(0, 4), o + 24);
  return f;
}

/** Parse an Ethernet/IPv4 ARP frame, or `undefined` if it is not one. */
export function parseArpFrame(frame: Uint8Array): ArpPacket | undefined {
  if (etherType(frame) !== ETHERTYPE_ARP || frame.length < ETH_HLEN + ARP_LEN) return undefined;
  const o = ETH_HLEN;
  if (le.getBE16(frame, o) !== 1 || le.getBE16(frame, o + 2) !== ETHERTYPE_IPV4 || frame[o + 4] !== 6 || frame[o + 5] !== 4) {
    return undefined;
  }
  return {
    op: le.getBE16(frame, o + 6),
    senderMac: frame.slice(o + 8, o + 14),
    senderIp: frame.slice(o + 14, o + 18),
    targetMac: frame.slice(o + 18, o + 24),
    targetIp: frame.slice(o + 24, o + 28),
  };
}

// ---------------------------------------------------------------------------------------------
// IPv4

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

// ---------------------------------------------------------------------------------------------
// IPv6 (enough to carry TCP for the offload engine and its tests)

/** Fields for {@link buildIpv6Frame}. */
export interface Ipv6FrameSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** 16 bytes each. */
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  nextHeader: number;
  payload: Uint8Array;
  hopLimit?: number;
}

/** Build an Ethernet+IPv6 frame around an L4 payload. */
export function buildIpv6Frame(s: Ipv6FrameSpec): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + IPV6_HLEN + s.payload.length);
  writeEthernetHeader(f, s.dstMac, s.srcMac, ETHERTYPE_IPV6);
  const o = ETH_HLEN;
  f[o] = 0x60;
  le.setBE16(f, o + 4, s.payload.length);
  f[o + 6] = s.nextHeader;
  f[o + 7] = s.hopLimit ?? 64;
  f.set(s.srcIp.subarray(0, 16), o + 8);
  f.set(s.dstIp.subarray(0, 16), o + 24);
  f.set(s.payload, o + IPV6_HLEN);
  return f;
}

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
  return loc.ipVersion === 4
    ? pseudoSumV4(frame, loc.ipOffset, loc.protocol, loc.l4Length)
    : pseudoSumV6(frame, loc.ipOffset, loc.protocol, loc.l4Length);
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

// ---------------------------------------------------------------------------------------------
// ICMP echo

/** A parsed ICMP echo request or reply. */
export interface IcmpEcho {
  ip: Ipv4Header;
  type: number;
  code: number;
  id: number;
  seq: number;
  /** Offset and length of the echo data in the frame. */
  dataOffset: number;
  dataLength: number;
  checksumOk: boolean;
}

/** Parse an ICMP echo request/reply frame, or `undefined` if it is not one. */
export function parseIcmpEchoFrame(frame: Uint8Array): IcmpEcho | undefined {
  const ip = parseIpv4Frame(frame);
  if (!ip || ip.protocol !== IPPROTO_ICMP || ip.payloadLength < ICMP_ECHO_HLEN) return undefined;
  const o = ip.payloadOffset;
  const type = frame[o]!;
  if (type !== ICMP_ECHO_REQUEST && type !== ICMP_ECHO_REPLY) return undefined;
  return {
    ip,
    type,
    code: frame[o + 1]!,
    id: le.getBE16(frame, o + 4),
    seq: le.getBE16(frame, o + 6),
    dataOffset: o + ICMP_ECHO_HLEN,
    dataLength: ip.payloadLength - ICMP_ECHO_HLEN,
    checksumOk: internetChecksum(frame, o, o + ip.payloadLength) === 0,
  };
}

/** Fields for {@link buildIcmpEchoFrame}. */
export interface IcmpEchoSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  type: number;
  id: number;
  seq: number;
  data: Uint8Array;
  ttl?: number;
  ipId?: number;
}

/** Build an ICMP echo request or reply frame with correct checksums. */
export function buildIcmpEchoFrame(s: IcmpEchoSpec): Uint8Array {
  const icmp = new Uint8Array(ICMP_ECHO_HLEN + s.data.length);
  icmp[0] = s.type;
  le.setBE16(icmp, 4, s.id);
  le.setBE16(icmp, 6, s.seq);
  icmp.set(s.data, ICMP_ECHO_HLEN);
  le.setBE16(icmp, 2, internetChecksum(icmp));
  return buildIpv4Frame({
    srcMac: s.srcMac,
    dstMac: s.dstMac,
    srcIp: s.srcIp,
    dstIp: s.dstIp,
    protocol: IPPROTO_ICMP,
    payload: icmp,
    ttl: s.ttl,
    id: s.ipId,
  });
}

// ---------------------------------------------------------------------------------------------
// UDP

/** A parsed UDP datagram. */
export interface UdpDatagram {
  ip: Ipv4Header;
  srcPort: number;
  dstPort: number;
  /** Offset and length of the data in the frame. */
  dataOffset: number;
  dataLength: number;
  /** True when the checksum is right or absent (zero). */
  checksumOk: boolean;
}

/** Parse a UDP-over-IPv4 frame, or `undefined` if it is not one. */
export function parseUdpFrame(frame: Uint8Array): UdpDatagram | undefined {
  const ip = parseIpv4Frame(frame);
  if (!ip || ip.protocol !== IPPROTO_UDP || ip.payloadLength < UDP_HLEN) return undefined;
  const o = ip.payloadOffset;
  const len = le.getBE16(frame, o + 4);
  if (len < UDP_HLEN || len > ip.payloadLength) return undefined;
  const csum = le.getBE16(frame, o + 6);
  const ok = csum === 0 || internetChecksum(frame, o, o + len, pseudoSumV4(frame, ip.offset, IPPROTO_UDP, len)) === 0;
  return {
    ip,
    srcPort: le.getBE16(frame, o),
    dstPort: le.getBE16(frame, o + 2),
    dataOffset: o + UDP_HLEN,
    dataLength: len - UDP_HLEN,
    checksumOk: ok,
  };
}

/** Fields for {@link buildUdpFrame}. */
export interface UdpSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
  ttl?: number;
  ipId?: number;
}

/** Build a UDP-over-IPv4 frame with correct checksums. */
export function buildUdpFrame(s: UdpSpec): Uint8Array {
  const f = buildIpv4Frame({
    srcMac: s.srcMac,
    dstMac: s.dstMac,
    srcIp: s.srcIp,
    dstIp: s.dstIp,
    protocol: IPPROTO_UDP,
    payload: new Uint8Array(UDP_HLEN + s.data.length),
    ttl: s.ttl,
    id: s.ipId,
  });
  const o = ETH_HLEN + IPV4_HLEN;
  const len = UDP_HLEN + s.data.length;
  le.setBE16(f, o, s.srcPort);
  le.setBE16(f, o + 2, s.dstPort);
  le.setBE16(f, o + 4, len);
  f.set(s.data, o + UDP_HLEN);
  const c = internetChecksum(f, o, o + len, pseudoSumV4(f, ETH_HLEN, IPPROTO_UDP, len));
  le.setBE16(f, o + 6, c === 0 ? 0xffff : c);
  return f;
}

// ---------------------------------------------------------------------------------------------
// TCP (building only; used to exercise the offload engine)

/** Fields for {@link buildTcpSegment}. */
export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** TCP options, padded by the caller to a multiple of 4 bytes. */
  options?: Uint8Array;
  data: Uint8Array;
}

/** Build a TCP header and data with a zero checksum (fill it with {@link fillL4Checksum}). */
export function buildTcpSegment(s: TcpSpec): Uint8Array {
  const opt = s.options ?? new Uint8Array(0);
  const hl = TCP_HLEN + opt.length;
  const t = new Uint8Array(hl + s.data.length);
  le.setBE16(t, 0, s.srcPort);
  le.setBE16(t, 2, s.dstPort);
  le.setBE32(t, 4, s.seq >>> 0);
  le.setBE32(t, 8, (s.ack ?? 0) >>> 0);
  t[12] = (hl / 4) << 4;
  t[13] = s.flags ?? TCP_ACK;
  le.setBE16(t, 14, s.window ?? 65535);
  t.set(opt, TCP_HLEN);
  t.set(s.data, hl);
  return t;
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
