/**
 * @vbus/vhost-user: a vhost-user back end for the vbus virtio-net device, so that a QEMU guest's
 * own virtio_net driver runs on our virtqueues. common/: the wire format and the session state
 * machine (no sockets); node/: the socket server and the native addon.
 * @module @vbus/vhost-user
 */
export * from './common/protocol.js';
export { VhostUserSession, type VhostPlatform, type VhostUserSessionOptions, type TransitionCounters } from './common/session.js';
