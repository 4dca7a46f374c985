/** UDP over IPv4 (RFC 768). */
import { le } from '@vbus/core';
import { internetChecksum, pseudoSumV4 } from './checksum.js';
import { ETH_HLEN } from './ethernet.js';
import { IPPROTO_UDP, IPV4_HLEN, buildIpv4Frame, parseIpv4Frame, type Ipv4Header } from './ipv4.js';

/** UDP header: sport u16 + dport u16 + len u16 + csum u16. */
export const UDP_HLEN = 8;

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
