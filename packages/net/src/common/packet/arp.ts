/** ARP for Ethernet/IPv4 (RFC 826). */
import { le } from '@vbus/core';
import { BROADCAST_MAC, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, etherType, writeEthernetHeader } from './ethernet.js';

/** ARP for Ethernet/IPv4: htype u16 + ptype u16 + hlen u8 + plen u8 + op u16 + sha[6] + spa[4] + tha[6] + tpa[4]. */
export const ARP_LEN = 28;
/** ARP operation: request. */
export const ARP_OP_REQUEST = 1;
/** ARP operation: reply. */
export const ARP_OP_REPLY = 2;

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
