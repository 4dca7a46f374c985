/** TCP segments (RFC 9293): building only, to exercise the offload engine. */
import { le } from '@vbus/core';

/** TCP header without options: sport u16 + dport u16 + seq u32 + ack u32 + off/flags u16 + win u16 + csum u16 + urg u16. */
export const TCP_HLEN = 20;
/** TCP flag bits (low byte of the offset/flags word). */
export const TCP_FIN = 0x01;
/** TCP flag SYN. */
export const TCP_SYN = 0x02;
/** TCP flag RST. */
export const TCP_RST = 0x04;
/** TCP flag PSH. */
export const TCP_PSH = 0x08;
/** TCP flag ACK. */
export const TCP_ACK = 0x10;
/** TCP flag URG. */
export const TCP_URG = 0x20;
/** TCP flag ECE (ECN echo). */
export const TCP_ECE = 0x40;
/** TCP flag CWR (congestion window reduced). */
export const TCP_CWR = 0x80;

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
