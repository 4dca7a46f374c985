/**
 * When the responder must not answer: rules against reflection loops and amplification.
 *
 * - UDP echo (RFC 862) never answers a datagram from a well-known port (below 1024, RFC 6335's
 *   System Ports) or from its own echo port, nor from port 0. Every service that answers a
 *   datagram (echo 7, daytime 13, chargen 19, time 37, DNS 53, NTP 123...) lives there, and an
 *   echo to it would be answered again: the classic echo/chargen loop, or two responders echoing
 *   each other forever. Clients send from ephemeral ports (IANA 49152-65535, Linux 32768-60999),
 *   so no real client is refused. The same rule as inetd's loop check, for the whole class.
 * - No reply (ICMP echo, UDP echo) to a frame whose source MAC is a group address, or whose
 *   source IPv4 address is not a unicast host: 0.0.0.0, limited broadcast, multicast (224/4),
 *   class E (240/4), the subnet's broadcast address (RFC 1122 §3.2.1.3, §3.2.2).
 */

/** Source ports below this are well-known services: no UDP echo to them. */
export const UDP_ECHO_MIN_SOURCE_PORT = 1024;

/** Whether a UDP echo may answer a datagram from `srcPort` (the responder echoes on `echoPort`). */
export function echoAllowedFrom(srcPort: number, echoPort: number): boolean {
  return srcPort >= UDP_ECHO_MIN_SOURCE_PORT && srcPort !== echoPort;
}

/** Whether the IPv4 source at `src[at..at+4)` is a unicast host address the responder may answer, given its own subnet. */
export function isUnicastSource(src: Uint8Array, ownIp: Uint8Array, prefixLength: number): boolean {
  const a = ((src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!) >>> 0;
  if (a === 0 || a === 0xffffffff) return false;
  if (src[0]! >= 224) return false; // multicast 224/4 and reserved 240/4
  if (prefixLength <= 30) {
    const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
    const own = ((ownIp[0]! << 24) | (ownIp[1]! << 16) | (ownIp[2]! << 8) | ownIp[3]!) >>> 0;
    if ((a & mask) === (own & mask) && (a | mask) >>> 0 === 0xffffffff) return false; // subnet broadcast
  }
  return true;
}
