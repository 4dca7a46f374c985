/** ICMP echo request and reply over IPv4 (RFC 792). */
import { le } from '@vbus/core';
import { internetChecksum } from './checksum.js';
import { IPPROTO_ICMP, buildIpv4Frame, parseIpv4Frame, type Ipv4Header } from './ipv4.js';

/** ICMP echo header: type u8 + code u8 + csum u16 + id u16 + seq u16. */
export const ICMP_ECHO_HLEN = 8;
/** ICMP type of an echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMP type of an echo request. */
export const ICMP_ECHO_REQUEST = 8;

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
