import { ConfigError } from '@vbus/core';
import type { NetBackendFactory } from '../common/backend/backend-registry.js';
import { QemuStreamBackend, type QemuStreamOptions, type StreamAddress } from './qemu-stream-backend.js';
import { QemuDgramBackend, type QemuDgramOptions } from './qemu-dgram-backend.js';
import { VxlanBackend } from './vxlan-backend.js';
import type { VxlanOptions } from './vxlan-options.js';
import { VdePlugBackend, type VdePlugOptions } from './vde-backend.js';

/** Options of the `"qemu-stream"` kind: exactly one of `listen` and `connect`, and the backend's own options. */
export interface QemuStreamKindOptions extends Omit<QemuStreamOptions, 'clock'> {
  /** Listen here for QEMU's `-netdev stream,server=off` (TCP host/port or a unix path). */
  listen?: StreamAddress;
  /** Connect to QEMU's `-netdev stream,server=on` here. */
  connect?: StreamAddress;
}

const STREAM_KEYS = ['listen', 'connect', 'name', 'maxFrame', 'maxQueuedBytes', 'replaceIdleMs', 'idleTimeoutMs'] as const satisfies ReadonlyArray<keyof QemuStreamKindOptions>;

/** `"qemu-stream"`: {@link QemuStreamBackend}, QEMU's `-netdev stream`/`socket` framing over TCP or a unix socket; `replaceIdleMs` counts by the container's clock. */
export const qemuStreamFactory: NetBackendFactory<QemuStreamKindOptions> = {
  kind: 'qemu-stream',
  description: "QEMU's -netdev stream/socket: a 4-byte length per frame over TCP or a unix socket",
  optionKeys: [...STREAM_KEYS],
  create: async ({ listen, connect, ...rest }, services) => {
    if ((listen === undefined) === (connect === undefined)) throw new ConfigError('listen', listen ?? null, 'give exactly one of listen and connect');
    const options: QemuStreamOptions = { ...rest, clock: services.clock };
    return listen !== undefined ? await QemuStreamBackend.listen(listen, options) : await QemuStreamBackend.connect(connect!, options);
  },
};

/** `"qemu-dgram"`: {@link QemuDgramBackend}, QEMU's `-netdev dgram`, one frame per UDP datagram. */
export const qemuDgramFactory: NetBackendFactory<QemuDgramOptions> = {
  kind: 'qemu-dgram',
  description: "QEMU's -netdev dgram: one frame per UDP datagram",
  optionKeys: ['local', 'remote', 'onlyFromRemote', 'name', 'maxQueuedBytes'],
  create: (options) => QemuDgramBackend.open(options),
};

/** `"vxlan"`: {@link VxlanBackend}, a VXLAN tunnel endpoint for one VNI; ages its table by the container's clock. */
export const vxlanFactory: NetBackendFactory<Omit<VxlanOptions, 'clock'>> = {
  kind: 'vxlan',
  description: 'a VXLAN tunnel endpoint (RFC 7348) for one VNI',
  optionKeys: ['vni', 'remotes', 'local', 'outerMtu', 'ageMs', 'maxEntries', 'maxQueuedDatagrams', 'name'],
  create: (options, services) => VxlanBackend.open({ ...options, clock: services.clock }),
};

/** `"vde"`: {@link VdePlugBackend}, a VDE switch through `vde_plug`'s stdio. */
export const vdeFactory: NetBackendFactory<VdePlugOptions> = {
  kind: 'vde',
  description: "a VDE switch through vde_plug's stdin/stdout",
  optionKeys: ['socket', 'command', 'args', 'maxQueuedBytes', 'name'],
  create: (options) => VdePlugBackend.open(options),
};
