import { BusError, type GuestAllocator, type GuestConnection, type ShmSignal } from '@vbus/core';
import {
  PackedQueueDriver,
  SplitQueueDriver,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VirtioTransportClient,
  featureMask,
  hasFeature,
  type VirtqueueDriver,
} from '@vbus/virtio-compat';
import { VIRTIO_RNG_QUEUE_REQUEST } from './virtio-rng-abi.js';

/** Options of {@link VirtioRngDriver.open}. */
export interface VirtioRngDriverOptions {
  /** Queue size (a power of two); default 16. */
  queueSize?: number;
  /** Bytes per request buffer; default 64 (Linux's virtio-rng asks for small amounts). */
  bufferSize?: number;
  /** Ring layout; default split. */
  ring?: 'split' | 'packed';
  /** Negotiate EVENT_IDX if offered; default true. */
  eventIdx?: boolean;
}

interface Pending {
  readonly out: Uint8Array;
  filled: number;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

/**
 * The guest half of virtio-rng (virtio 1.2 §5.4): the virtio initialisation sequence (§3.1.1)
 * over {@link VirtioTransportClient}, one request queue of device-writable buffers, and
 * `read(n)`, which resolves with `n` random bytes (several buffers if needed: the device may
 * fill less than a whole buffer, §5.4.7.1).
 */
export class VirtioRngDriver {
  readonly counters = { requests: 0, bytes: 0, kicks: 0, kicksSuppressed: 0, interrupts: 0 };
  private readonly pending: Pending[] = [];
  private readonly free: number[] = [];
  private readonly buffers: number[] = [];
  /** Bytes pending reads still miss. */
  private missing = 0;
  /** Bytes the buffers in flight can bring (their posted lengths), and each one's length. */
  private inFlightBytes = 0;
  private readonly postedLen: number[] = [];

  private constructor(
    readonly conn: GuestConnection,
    readonly features: bigint,
    private readonly vq: VirtqueueDriver<number>,
    private readonly signal: ShmSignal,
    allocator: GuestAllocator,
    private readonly bufferSize: number,
  ) {
    for (let i = 0; i < vq.size; i++) {
      this.buffers.push(allocator.alloc(bufferSize, 8));
      this.postedLen.push(0);
      this.free.push(i);
    }
    signal.handler = () => {
      this.counters.interrupts++;
      this.drain();
    };
    conn.once('close', (reason: string) => {
      for (const p of this.pending.splice(0))
        p.reject(new BusError(`${conn.device.name}: connection closed (${reason}) with ${p.out.length - p.filled} random bytes still to come`));
    });
  }

  /** Negotiate, set up the request queue, and set DRIVER_OK. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: VirtioRngDriverOptions = {}): Promise<VirtioRngDriver> {
    const t = new VirtioTransportClient(conn, allocator);
    const name = conn.device.name;
    const A = VIRTIO_CONFIG_S_ACKNOWLEDGE;
    const D = VIRTIO_CONFIG_S_DRIVER;
    await t.setStatus(0);
    await t.setStatus(A);
    await t.setStatus(A | D);
    const offered = await t.deviceFeatures();
    let wanted = featureMask(VIRTIO_F_VERSION_1);
    if (options.eventIdx !== false) wanted |= featureMask(VIRTIO_F_EVENT_IDX);
    if (options.ring === 'packed') wanted |= featureMask(VIRTIO_F_RING_PACKED);
    const features = offered & wanted;
    if (!hasFeature(features, VIRTIO_F_VERSION_1) || (options.ring === 'packed' && !hasFeature(features, VIRTIO_F_RING_PACKED))) {
      await t.setStatus(A | D | VIRTIO_CONFIG_S_FAILED);
      throw new BusError(`${name}: the device does not offer ${hasFeature(offered, VIRTIO_F_VERSION_1) ? 'RING_PACKED' : 'VERSION_1'}`);
    }
    await t.setDriverFeatures(features);
    if (((await t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK)) & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      await t.setStatus(A | D | VIRTIO_CONFIG_S_FAILED);
      throw new BusError(`${name}: the device refused features 0x${features.toString(16)}`);
    }
    const common = { name: `${name}.requestq`, memory: conn.memory, size: options.queueSize ?? 16, eventIdx: hasFeature(features, VIRTIO_F_EVENT_IDX), allocator };
    let vq: VirtqueueDriver<number>;
    let areas: { desc: number; driver: number; device: number };
    if (hasFeature(features, VIRTIO_F_RING_PACKED)) {
      const p = PackedQueueDriver.allocate<number>(common);
      vq = p;
      areas = { desc: p.addresses.descRing, driver: p.addresses.driverEvent, device: p.addresses.deviceEvent };
    } else {
      const s = SplitQueueDriver.allocate<number>(common);
      vq = s;
      areas = { desc: s.addresses.descTable, driver: s.addresses.availRing, device: s.addresses.usedRing };
    }
    const signal = await t.registerQueue(VIRTIO_RNG_QUEUE_REQUEST, { address: areas.desc, length: 16 * common.size });
    await t.setupQueue(VIRTIO_RNG_QUEUE_REQUEST, common.size, areas);
    await t.setStatus(A | D | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    return new VirtioRngDriver(conn, features, vq, signal, allocator, options.bufferSize ?? 64);
  }

  /** `n` random bytes from the device. */
  read(n: number): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) return Promise.reject(new RangeError(`read(${n}): not a byte count`));
    if (this.conn.closed) return Promise.reject(new BusError(`${this.conn.device.name}: connection is closed`));
    if (n === 0) return Promise.resolve(new Uint8Array(0));
    return new Promise((resolve, reject) => {
      this.pending.push({ out: new Uint8Array(n), filled: 0, resolve, reject });
      this.missing += n;
      this.post();
    });
  }

  /** Post buffers for the bytes in-flight buffers do not cover, then kick once if the device wants it. */
  private post(): void {
    let posted = false;
    while (this.missing > this.inFlightBytes) {
      const i = this.free.pop();
      if (i === undefined) break;
      const len = Math.min(this.bufferSize, this.missing - this.inFlightBytes);
      if (!this.vq.add([], [{ addr: this.buffers[i]!, len }], i)) {
        this.free.push(i);
        break;
      }
      this.postedLen[i] = len;
      this.inFlightBytes += len;
      posted = true;
    }
    if (posted && this.vq.needsKick()) {
      if (this.signal.inject()) this.counters.kicks++;
      else this.counters.kicksSuppressed++;
    }
  }

  /**
   * Take used buffers (interrupts masked while draining, re-checked on unmask): their bytes go
   * to the oldest pending reads, in order; a short fill is simply asked for again by post().
   */
  private drain(): void {
    const mem = this.conn.memory;
    do {
      this.vq.disableInterrupts();
      for (let u = this.vq.getUsed(); u !== null; u = this.vq.getUsed()) {
        const i = u.token;
        // the split/packed driver already refused a used length beyond the buffer; clamp anyway
        const len = Math.min(u.len, this.postedLen[i]!);
        this.inFlightBytes -= this.postedLen[i]!;
        this.counters.requests++;
        this.counters.bytes += len;
        let at = 0;
        while (at < len && this.pending.length > 0) {
          const p = this.pending[0]!;
          const take = Math.min(len - at, p.out.length - p.filled);
          mem.copyOut(this.buffers[i]! + at, p.out, p.filled, take);
          p.filled += take;
          at += take;
          this.missing -= take;
          if (p.filled === p.out.length) {
            this.pending.shift();
            p.resolve(p.out);
          }
        }
        this.free.push(i);
      }
    } while (this.vq.enableInterrupts());
    this.post();
  }
}
