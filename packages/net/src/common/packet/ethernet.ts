/**
 * Ethernet II framing (IEEE 802.3 clause 3) and MAC addresses: the one MAC parser and formatter
 * of the project. Header fields are big-endian (network order).
 */
import { ConfigError, cryptoRandomSource, le, type RandomSource } from '@vbus/core';

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

/** The broadcast MAC address. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

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

/** A random locally administered unicast MAC (first octet x2/x6/xA/xE), as Linux's eth_random_addr. */
export function randomLocalMac(random: RandomSource = cryptoRandomSource): Uint8Array {
  const m = new Uint8Array(6);
  random(m);
  m[0] = (m[0]! & 0xfc) | 0x02;
  return m;
}

/**
 * The one MAC policy of every NIC's config (venet and virtio-net alike): `"52:54:00:12:34:56"`
 * (or `-` separated) or 6 bytes, a unicast address; absent, a random locally administered one
 * from `random`. Throws {@link ConfigError} on option `mac`.
 */
export function configMac(value: unknown, random: RandomSource = cryptoRandomSource): Uint8Array {
  if (value === undefined) return randomLocalMac(random);
  let mac: Uint8Array;
  if (value instanceof Uint8Array && value.length === ETH_ALEN) mac = Uint8Array.from(value);
  else if (typeof value === 'string') {
    try {
      mac = parseMac(value);
    } catch {
      throw new ConfigError('mac', value, 'must be a MAC address like "52:54:00:12:34:56" or 6 bytes');
    }
  } else throw new ConfigError('mac', value, 'must be a MAC address like "52:54:00:12:34:56" or 6 bytes');
  if (isGroupMac(mac)) throw new ConfigError('mac', value, 'must be a unicast address');
  return mac;
}
