/**
 * @vbus/net: the host side of every NIC plugin ("venet-tap" merged into virtio-net's host):
 * the {@link NetBackend} interface and its ports, loopback, a learning switch, patch cables,
 * pcap taps, software checksum and segmentation offload, the packet codec, and a minimal guest
 * IPv4 responder. Node sockets (QEMU stream and datagram) and pcap files are under `@vbus/net/node`.
 * @module @vbus/net
 */
export * from './common/backend/index.js';
export * from './common/packet/index.js';
export * from './common/responder/index.js';
export * from './common/nic/index.js';
export { netModule } from './net-module.js';
