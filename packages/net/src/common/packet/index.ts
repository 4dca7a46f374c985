/**
 * The packet codec: small pure helpers to build and parse Ethernet, ARP, IPv4, IPv6, ICMP, UDP and
 * TCP, and the internet checksum, one protocol per file. Used by the guest responder, the software
 * offload engine, tests and the CLI. Builders allocate a fresh frame; parsers read in place and
 * never throw on short or malformed input (they return `undefined`). Header fields are big-endian.
 */
export * from './ethernet.js';
export * from './checksum.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './l4.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
