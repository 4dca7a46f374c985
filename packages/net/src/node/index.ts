/** Node-specific network backends: QEMU stream and datagram sockets, pcap files. */
export {
  QemuStreamBackend,
  type StreamAddress,
  type QemuStreamOptions,
  type QemuStreamCounters,
  type QemuStreamEvents,
} from './qemu-stream-backend.js';
export {
  QemuDgramBackend,
  type DgramAddress,
  type QemuDgramOptions,
  type QemuDgramCounters,
  type QemuDgramEvents,
} from './qemu-dgram-backend.js';
export { PcapFile, type PcapFileOptions } from './pcap-file.js';
