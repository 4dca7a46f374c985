/** IPv6 (RFC 8200): enough to carry TCP for the offload engine and its tests; no extension headers. */
import { le } from '@vbus/core';
import { ETH_HLEN, ETHERTYPE_IPV6, writeEthernetHeader } from './ethernet.js';

/** IPv6 fixed header: ver/tc/flow u32 + payload len u16 + next header u8 + hop limit u8 + src[16] + dst[16]. */
export const IPV6_HLEN = 40;

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
