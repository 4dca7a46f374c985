import { inject, injectable, optional } from 'inversify';
import { RandomSource, type Device, type DeviceClass, type DeviceConnectionHandler, type DeviceContext, type GuestMemory } from '@vbus/core';
import { formatMac } from '@vbus/net';
import { VIRTIO_NET_S_ANNOUNCE, VIRTIO_NET_S_LINK_UP, VIRTIO_NET_TYPE } from './virtio-net-abi.js';
import { validateVirtioNetConfig, type VirtioNetConfig } from './virtio-net-config.js';
import { VirtioNetConnection, type VirtioNetDeviceView } from './virtio-net-connection.js';

/** The config a user gives `bus.createDevice('virtio-net', ...)`: every {@link VirtioNetConfig} field optional, `mac` as text or bytes. */
export type VirtioNetConfigInput = Partial<Omit<VirtioNetConfig, 'mac'>> & { mac?: string | Uint8Array };

/**
 * The virtio-net device class (type "virtio-net"): a virtio device on the bus whose host half
 * is a {@link "@vbus/net"!NetBackend}, the same backends venet uses.
 */
@injectable()
export class VirtioNetDeviceClass implements DeviceClass<VirtioNetConfig, VirtioNetConfigInput> {
  readonly type = VIRTIO_NET_TYPE;
  readonly version = 1;
  readonly description = 'virtio-net (OASIS virtio 1.2 §5.1) over the vbus virtio transport';
  readonly configKeys = ['mac', 'mtu', 'queuePairs', 'backend', 'features', 'maxQueueSize', 'link', 'pollTurns'] as const satisfies ReadonlyArray<keyof VirtioNetConfigInput>;

  /** @param random feeds default MACs: the container's {@link RandomSource}; bind a seeded one for reproducible runs. */
  constructor(@inject(RandomSource) @optional() private readonly random?: RandomSource) {}

  validate(config: unknown): VirtioNetConfig {
    return validateVirtioNetConfig(config, this.random);
  }

  /** Make a virtio-net device from a validated config. */
  create(config: VirtioNetConfig, context: DeviceContext): VirtioNetDevice {
    return new VirtioNetDevice(config, context);
  }
}

/** A virtio-net device instance. */
export class VirtioNetDevice implements Device, VirtioNetDeviceView {
  readonly type = VIRTIO_NET_TYPE;
  private readonly conns = new Set<VirtioNetConnection>();
  private linkUp: boolean;
  private announce = false;

  constructor(
    readonly config: VirtioNetConfig,
    private readonly context: DeviceContext,
  ) {
    this.linkUp = config.link;
  }

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    const c = new VirtioNetConnection(this, this.context, connection.memory, () => this.conns.delete(c));
    this.conns.add(c);
    return c;
  }

  /** Config-space status word (LINK_UP, ANNOUNCE). */
  get netStatus(): number {
    return (this.linkUp ? VIRTIO_NET_S_LINK_UP : 0) | (this.announce ? VIRTIO_NET_S_ANNOUNCE : 0);
  }
  get link(): boolean {
    return this.linkUp;
  }

  /** Change the link state (and optionally ask the driver to announce): a configuration change. */
  setLink(up: boolean, announce = false): void {
    this.linkUp = up;
    this.announce = announce;
    for (const c of this.conns) c.statusChanged();
  }
  /** @internal the driver acknowledged an announcement */
  clearAnnounce(): void {
    this.announce = false;
  }

  /** The connections' DEVICE_NEEDS_RESET errors (empty when all is well). */
  errors(): string[] {
    return [...this.conns].flatMap((c) => (c.error ? [c.error.message] : []));
  }
  /** Status of each connection (VIRTIO_CONFIG_S_*). */
  statuses(): number[] {
    return [...this.conns].map((c) => c.deviceStatus);
  }

  /** MAC, MTU, queue pairs, offered and negotiated features, for introspection. */
  attributes() {
    return {
      mac: formatMac(this.config.mac),
      mtu: this.config.mtu,
      queuePairs: this.config.queuePairs,
      link: this.linkUp,
      features: `0x${this.config.features.toString(16)}`,
      backend: this.config.backend?.kind ?? 'none',
      error: this.errors()[0] ?? '',
    };
  }

  /** Frames, bytes, drops and notifications of this NIC, for introspection. */
  counters() {
    const total: Record<string, Record<string, number>> = {};
    for (const c of this.conns) {
      for (const [q, v] of Object.entries(c.counters())) {
        const t = (total[q] ??= {});
        for (const [k, n] of Object.entries(v)) t[k] = (t[k] ?? 0) + n;
      }
    }
    return total;
  }

  release(): void {
    for (const c of [...this.conns]) c.close();
  }
}

declare module '@vbus/core' {
  // `bus.createDevice('virtio-net', name, config)` takes a VirtioNetConfigInput. (a plain comment: typedoc keeps one doc per interface)
  interface DeviceConfigs {
    'virtio-net': VirtioNetConfigInput;
  }
}
