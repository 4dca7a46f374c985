import { ContainerModule, inject, injectable, optional } from 'inversify';
import { BusError, ConfigError, DeviceClass, RandomSource, cryptoRandomSource, type Device, type DeviceConnectionHandler, type DeviceContext, type GuestMemory } from '@vbus/core';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_PACKED, VirtioDeviceConnection, featureMask, type DescriptorChain, type QueueSlot } from '@vbus/virtio-compat';
import { VIRTIO_RNG_CONFIG_SIZE, VIRTIO_RNG_NUM_QUEUES, VIRTIO_RNG_TYPE } from './virtio-rng-abi.js';

/** Configuration of a virtio-rng device. */
export interface VirtioRngConfig {
  /** Largest queue size the device accepts (a power of two, at most 32768). Default 64. */
  readonly maxQueueSize: number;
  /**
   * Most bytes put into one buffer (§5.4.7.1: the device MAY use less than the whole buffer).
   * Default 4096, so one request never costs more than that much of the entropy source.
   */
  readonly maxBytesPerRequest: number;
}

/** Transport features the device offers: the rings' own (VERSION_1 is added by the transport). */
const OFFERED = featureMask(VIRTIO_F_EVENT_IDX) | featureMask(VIRTIO_F_INDIRECT_DESC) | featureMask(VIRTIO_F_RING_PACKED);

/**
 * The virtio-rng device class (type "virtio-rng", virtio 1.2 §5.4). Its entropy comes from the
 * container's {@link RandomSource} (crypto by default): bind a seeded one for reproducible runs.
 */
@injectable()
export class VirtioRngDeviceClass implements DeviceClass<VirtioRngConfig> {
  readonly type = VIRTIO_RNG_TYPE;
  readonly version = 1;
  readonly description = 'virtio entropy device (OASIS virtio 1.2 §5.4) over the vbus virtio transport';
  readonly configKeys = ['maxQueueSize', 'maxBytesPerRequest'] as const;

  constructor(@inject(RandomSource) @optional() private readonly random: RandomSource = cryptoRandomSource) {}

  validate(config: unknown): VirtioRngConfig {
    const c = (config ?? {}) as Partial<Record<keyof VirtioRngConfig, unknown>>;
    const size = c.maxQueueSize ?? 64;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0)
      throw new ConfigError('maxQueueSize', size, 'must be a power of two in [1, 32768] (virtio 1.2 §2.7)');
    const max = c.maxBytesPerRequest ?? 4096;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1 << 20) throw new ConfigError('maxBytesPerRequest', max, 'must be an integer in [1, 1048576]');
    return { maxQueueSize: size, maxBytesPerRequest: max };
  }

  create(config: VirtioRngConfig, context: DeviceContext): VirtioRngDevice {
    return new VirtioRngDevice(config, context, this.random);
  }
}

/** Counters of a virtio-rng device, over every connection it has had. */
export interface VirtioRngCounters {
  /** Buffers filled. */
  requests: number;
  /** Random bytes handed out. */
  bytes: number;
}

/** A virtio-rng device on a bus. */
export class VirtioRngDevice implements Device {
  readonly type = VIRTIO_RNG_TYPE;
  private readonly conns = new Set<VirtioRngConnection>();
  readonly totals: VirtioRngCounters = { requests: 0, bytes: 0 };

  constructor(
    readonly config: VirtioRngConfig,
    private readonly context: DeviceContext,
    readonly random: RandomSource,
  ) {}

  /** Transport counters (kicks, interrupts, suppressed) of connections that closed. */
  private readonly retired: Record<string, number> = {};

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    const c = new VirtioRngConnection(this, this.context, connection.memory, () => {
      this.conns.delete(c);
      addQueueCounters(this.retired, c.queues[0]!.counters);
    });
    this.conns.add(c);
    return c;
  }

  /** DEVICE_NEEDS_RESET errors of the live connections (empty when all is well). */
  errors(): string[] {
    return [...this.conns].flatMap((c) => (c.error ? [c.error.message] : []));
  }

  attributes() {
    return { maxQueueSize: this.config.maxQueueSize, maxBytesPerRequest: this.config.maxBytesPerRequest, error: this.errors()[0] ?? '' };
  }

  /** Over every connection the device has had: buffers filled, bytes, and the queue's signal counters. */
  counters() {
    const requestq: Record<string, number> = { ...this.retired };
    for (const c of this.conns) addQueueCounters(requestq, c.queues[0]!.counters);
    return { requestq: { ...requestq, ...this.totals } };
  }
}

/** Sum a queue's signal counters into `total` (requests and bytes are the device's own totals). */
function addQueueCounters(total: Record<string, number>, q: object): void {
  for (const [k, v] of Object.entries(q)) if (k !== 'frames' && k !== 'bytes' && typeof v === 'number') total[k] = (total[k] ?? 0) + v;
}

/** One driver's connection: the generic transport plus the request queue's work. */
class VirtioRngConnection extends VirtioDeviceConnection {
  /** Entropy staged for one buffer, then copied into the chain's writable part. */
  private readonly scratch: Uint8Array;

  constructor(
    private readonly device: VirtioRngDevice,
    context: DeviceContext,
    memory: GuestMemory,
    private readonly onClose: () => void,
  ) {
    super(context, memory, { numQueues: VIRTIO_RNG_NUM_QUEUES, maxQueueSize: device.config.maxQueueSize, features: OFFERED, queueName: () => 'requestq' });
    this.scratch = new Uint8Array(device.config.maxBytesPerRequest);
  }

  protected configSpace(): Uint8Array {
    return new Uint8Array(VIRTIO_RNG_CONFIG_SIZE);
  }

  protected start(): void {
    // buffers posted before DRIVER_OK are served now (their kick found the device not live)
    const slot = this.queues[0]!;
    if (slot.queue?.hasAvailable()) this.guard(slot, () => this.serve(slot));
  }

  protected stop(): void {}

  protected onNotify(slot: QueueSlot): void {
    this.serve(slot);
  }

  override close(): void {
    super.close();
    this.onClose();
  }

  /**
   * Fill every available buffer with notifications off; re-enable and re-check; one used-buffer
   * notification per pass (suppressed by the ring when the driver polls). At most 4 rings' worth
   * per pass, then the rest in a deferred pass: a guest cannot hold the thread.
   */
  private serve(slot: QueueSlot): void {
    const q = slot.queue!;
    const budget = 4 * q.size;
    let done = 0;
    q.disableNotification();
    for (;;) {
      let chain: DescriptorChain | null;
      while ((chain = q.popChain()) !== null) {
        q.addUsed(chain.id, this.fill(slot, chain));
        if (++done >= budget) {
          this.interrupt(slot);
          this.context.defer(() => this.live && slot.queue === q && this.guard(slot, () => this.serve(slot)));
          return;
        }
      }
      if (!q.enableNotification()) break;
      q.disableNotification();
    }
    if (done > 0) this.interrupt(slot);
  }

  /** One request: random bytes into the chain's writable part. Returns the used length. */
  private fill(slot: QueueSlot, chain: DescriptorChain): number {
    // §5.4.6.2: the driver MUST NOT place driver-readable buffers into the queue
    if (chain.readableCount > 0)
      throw new BusError(
        `${slot.name}: chain ${chain.id} has ${chain.readableCount} device-readable descriptor(s); requestq buffers must be device-writable only (virtio 1.2 §5.4.6.2)`,
      );
    const n = Math.min(chain.writableBytes, this.scratch.length);
    if (n === 0) throw new BusError(`${slot.name}: chain ${chain.id} has no writable bytes; the device must place at least one random byte (virtio 1.2 §5.4.7.1)`);
    const bytes = this.scratch.subarray(0, n);
    this.device.random(bytes);
    const written = chain.writer().write(bytes, 0, n);
    this.device.totals.requests++;
    this.device.totals.bytes += written;
    slot.counters.frames++;
    slot.counters.bytes += written;
    return written;
  }
}

/** The plugin's container module: binds the virtio-rng device class (its RandomSource injected). */
export const virtioRngModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).to(VirtioRngDeviceClass).inSingletonScope();
});
