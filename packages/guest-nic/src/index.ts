/**
 * A guest with one NIC (venet or virtio-net) and an IPv4 responder, run in a worker thread, and
 * the host's handle on it: what `vbus demo`, `vbus serve` and the benchmarks drive.
 * @module @vbus/guest-nic
 */
export { openGuestNic, type GuestNicKind } from './open.js';
export { NicGuestHandle } from './handle.js';
export type { NicGuestCommand } from './worker.js';
