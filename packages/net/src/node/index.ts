/** Node-specific network backends: QEMU stream and datagram sockets, VXLAN, VDE (through vde_plug), pcap files.
 * @module @vbus/net/node
 */
export { QemuStreamBackend, type StreamAddress, type QemuStreamOptions, type QemuStreamCounters, type QemuStreamEvents } from './qemu-stream-backend.js';
export { QemuDgramBackend, type DgramAddress, type QemuDgramOptions, type QemuDgramCounters, type QemuDgramEvents } from './qemu-dgram-backend.js';
export { PcapFile, type PcapFileOptions } from './pcap-file.js';
export { VxlanBackend, type VxlanEvents } from './vxlan-backend.js';
export type { VxlanAddress, VxlanOptions } from './vxlan-options.js';
export type { VxlanDrops, VxlanRemoteCounters, VxlanRemoteInfo, VxlanCounters } from './vxlan-counters.js';
export type { VxlanFdbEntry } from './vxlan-fdb.js';
export { VdePlugBackend, type VdePlugOptions, type VdePlugCounters, type VdePlugEvents } from './vde-backend.js';
export { netNodeModule } from './net-node-module.js';
export { qemuStreamFactory, qemuDgramFactory, vxlanFactory, vdeFactory, type QemuStreamKindOptions } from './node-backend-factories.js';
