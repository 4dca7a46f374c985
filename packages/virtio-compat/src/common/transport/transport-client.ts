import { BusError, ShmSignal, le, type GuestAllocator, type GuestConnection, SHM_SIGNAL_SIZE } from '@vbus/core';
import {
  VIRTIO_CALL_GET_DEVICE_FEATURES,
  VIRTIO_CALL_GET_ERROR,
  VIRTIO_CALL_GET_STATUS,
  VIRTIO_CALL_QUEUE_ENABLE,
  VIRTIO_CALL_QUEUE_SELECT,
  VIRTIO_CALL_QUEUE_SET_ADDR,
  VIRTIO_CALL_QUEUE_SET_SIZE,
  VIRTIO_CALL_READ_CONFIG,
  VIRTIO_CALL_SET_DRIVER_FEATURES,
  VIRTIO_CALL_SET_STATUS,
  VIRTIO_SHM_CONFIG,
  u32Args,
} from './transport-abi.js';

/**
 * The driver's half of the virtio transport: typed wrappers over the `call` functions and the
 * `shm` registrations of {@link VirtioDeviceConnection}. Used by every virtio driver here.
 */
export class VirtioTransportClient {
  constructor(
    readonly conn: GuestConnection,
    private readonly allocator: GuestAllocator,
  ) {}

  /** The device status byte (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET...). */
  async getStatus(): Promise<number> {
    return le.getU32(await this.conn.call(VIRTIO_CALL_GET_STATUS), 0);
  }
  /** Write the status; returns the status as the device now reports it. */
  async setStatus(status: number): Promise<number> {
    return le.getU32(await this.conn.call(VIRTIO_CALL_SET_STATUS, u32Args(status)), 0);
  }
  /** The 64 feature bits the device offers. */
  async deviceFeatures(): Promise<bigint> {
    const lo = le.getU32(await this.conn.call(VIRTIO_CALL_GET_DEVICE_FEATURES, u32Args(0)), 0);
    const hi = le.getU32(await this.conn.call(VIRTIO_CALL_GET_DEVICE_FEATURES, u32Args(1)), 0);
    return BigInt(lo) | (BigInt(hi) << 32n);
  }
  /** Tell the device the feature bits the driver accepts. */
  async setDriverFeatures(features: bigint): Promise<void> {
    await this.conn.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(0, Number(features & 0xffff_ffffn)));
    await this.conn.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(1, Number((features >> 32n) & 0xffff_ffffn)));
  }
  /** Read `length` bytes of the device-specific config space at `offset`. */
  async readConfig(offset: number, length: number): Promise<Uint8Array> {
    return this.conn.call(VIRTIO_CALL_READ_CONFIG, u32Args(offset, length));
  }
  /** The error text that set DEVICE_NEEDS_RESET ("" if none). */
  async error(): Promise<string> {
    return new TextDecoder().decode(await this.conn.call(VIRTIO_CALL_GET_ERROR));
  }

  /** Allocate and format an shm-signal descriptor in guest memory. */
  newSignalDescriptor(): number {
    const addr = this.allocator.alloc(SHM_SIGNAL_SIZE, 8);
    ShmSignal.format(ShmSignal.cellsAt(this.conn.memory, addr));
    return addr;
  }

  /**
   * Register queue `index`'s signal (once per connection: it survives resets) with the
   * descriptor area as the shm region, and return the driver's (north) endpoint.
   */
  async registerQueue(index: number, region: { address: number; length: number }): Promise<ShmSignal> {
    const sig = this.newSignalDescriptor();
    const s = await this.conn.shm(index, region.address, region.length, sig);
    if (!s) throw new BusError(`${this.conn.device.name}: queue ${index} registered without a signal`);
    return s;
  }

  /** Select queue `index`, set size and ring areas, enable it. Returns the device's maximum size. */
  async setupQueue(index: number, size: number, areas: { desc: number; driver: number; device: number }): Promise<void> {
    const max = le.getU32(await this.conn.call(VIRTIO_CALL_QUEUE_SELECT, u32Args(index)), 0);
    if (max === 0) throw new BusError(`${this.conn.device.name}: queue ${index} does not exist`);
    if (size > max) throw new BusError(`${this.conn.device.name}: queue ${index} size ${size} exceeds the device's maximum ${max}`);
    await this.conn.call(VIRTIO_CALL_QUEUE_SET_SIZE, u32Args(size));
    const a = new Uint8Array(24);
    le.setU64(a, 0, areas.desc);
    le.setU64(a, 8, areas.driver);
    le.setU64(a, 16, areas.device);
    await this.conn.call(VIRTIO_CALL_QUEUE_SET_ADDR, a);
    await this.conn.call(VIRTIO_CALL_QUEUE_ENABLE);
  }

  /** Register the configuration-change signal and return the driver's endpoint. */
  async registerConfigSignal(): Promise<ShmSignal> {
    const sig = this.newSignalDescriptor();
    const s = await this.conn.shm(VIRTIO_SHM_CONFIG, sig, SHM_SIGNAL_SIZE, sig);
    return s!;
  }
}
