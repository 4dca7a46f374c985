/**
 * The virtio-net device driven through the register interface a vbus guest uses (status,
 * features, queue setup, DRIVER_OK), so the device code runs unchanged under a vhost-user front
 * end: starting it on the front end's rings and stopping it with each ring's position kept.
 */
import { le, type DeviceConnectionHandler, type RegionMemory } from '@vbus/core';
import {
  VIRTIO_CALL_GET_ERROR,
  VIRTIO_CALL_GET_STATUS,
  VIRTIO_CALL_QUEUE_ENABLE,
  VIRTIO_CALL_QUEUE_GET_STATE,
  VIRTIO_CALL_QUEUE_SELECT,
  VIRTIO_CALL_QUEUE_SET_ADDR,
  VIRTIO_CALL_QUEUE_SET_SIZE,
  VIRTIO_CALL_QUEUE_SET_STATE,
  VIRTIO_CALL_SET_DRIVER_FEATURES,
  VIRTIO_CALL_SET_STATUS,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTQ_USED_IDX,
  u32Args,
} from '@vbus/virtio-compat';
import { VhostUserError, VhostUserRequest as R } from './protocol.js';
import type { MemoryTable } from './memory-table.js';
import type { Vring } from './vring.js';

/** The device connection's register interface, as the session drives it. */
export class DeviceControl {
  /** @param connection the id the device was opened with (each ring's ShmRegistration names it). */
  constructor(
    private readonly handler: DeviceConnectionHandler,
    private readonly connection: number,
  ) {}

  /** One register call; the virtio-net device answers synchronously. */
  call(func: number, data: Uint8Array): Uint8Array {
    const r = this.handler.call(func, data);
    if (r instanceof Promise) throw new VhostUserError(0, 'internal: the device answered asynchronously');
    return r;
  }

  /** The device's DEVICE_NEEDS_RESET error, or ''. */
  error(): string {
    return new TextDecoder().decode(this.call(VIRTIO_CALL_GET_ERROR, new Uint8Array(0)));
  }

  /**
   * Reset the device, negotiate `features`, set up every vring (front-end addresses translated
   * through `table`) and set DRIVER_OK. Throws {@link VhostUserError} if the device refuses.
   */
  start(features: bigint, vrings: readonly Vring[], table: MemoryTable, memory: RegionMemory): void {
    const S = { A: VIRTIO_CONFIG_S_ACKNOWLEDGE, D: VIRTIO_CONFIG_S_DRIVER, F: VIRTIO_CONFIG_S_FEATURES_OK, OK: VIRTIO_CONFIG_S_DRIVER_OK };
    const status = (s: number): void => void this.call(VIRTIO_CALL_SET_STATUS, u32Args(s));
    status(0);
    status(S.A);
    status(S.A | S.D);
    this.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(0, Number(features & 0xffff_ffffn)));
    this.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(1, Number((features >> 32n) & 0xffff_ffffn)));
    status(S.A | S.D | S.F);
    if ((le.getU32(this.call(VIRTIO_CALL_GET_STATUS, new Uint8Array(0)), 0) & S.F) === 0)
      throw new VhostUserError(R.SET_FEATURES, `the device refused features 0x${features.toString(16)}`);
    vrings.forEach((v, i) => {
      const a = v.addr!;
      const desc = table.translate(R.SET_VRING_ADDR, `queue ${i} descriptor table`, a.desc);
      const avail = table.translate(R.SET_VRING_ADDR, `queue ${i} available ring`, a.avail);
      const used = table.translate(R.SET_VRING_ADDR, `queue ${i} used ring`, a.used);
      this.call(VIRTIO_CALL_QUEUE_SELECT, u32Args(i));
      this.call(VIRTIO_CALL_QUEUE_SET_SIZE, u32Args(v.num!));
      const addr = new Uint8Array(24);
      le.setU64(addr, 0, desc);
      le.setU64(addr, 8, avail);
      le.setU64(addr, 16, used);
      this.call(VIRTIO_CALL_QUEUE_SET_ADDR, addr);
      // the used index is the ring's own (the front end kept the ring); the avail position is the base
      let nextUsed = 0;
      if (memory.contains(used + VIRTQ_USED_IDX, 2)) nextUsed = le.getU16(memory.view(used + VIRTQ_USED_IDX, 2), 0);
      // buffers taken but never returned before the stop are offered again (as libvhost-user does)
      this.call(VIRTIO_CALL_QUEUE_SET_STATE, u32Args(nextUsed === v.base ? v.base : nextUsed, nextUsed));
      this.handler.shm({ id: i, connection: this.connection, address: used, length: 0, memory, signal: v.south });
      this.call(VIRTIO_CALL_QUEUE_ENABLE, new Uint8Array(0));
    });
    status(S.A | S.D | S.F | S.OK);
  }

  /** Reset the device, first saving each vring's position in its `base` (for GET_VRING_BASE and a restart). */
  stop(vrings: readonly Vring[]): void {
    vrings.forEach((v, i) => {
      try {
        v.base = le.getU32(this.call(VIRTIO_CALL_QUEUE_GET_STATE, u32Args(i)), 0);
      } catch {
        // a queue the device failed: its position is lost; the front end resets it anyway
      }
    });
    this.call(VIRTIO_CALL_SET_STATUS, u32Args(0));
  }
}
