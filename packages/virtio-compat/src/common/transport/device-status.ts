import { BusError } from '@vbus/core';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from '../virtqueue/layout.js';

/**
 * The device status bits a driver's status write `value` (non-zero, masked to 8 bits) adds to
 * `status`. DEVICE_NEEDS_RESET is the device's bit: left out of both sides. Throws a BusError
 * naming `name` if the write clears a bit (only a reset does) or, unless it adds FAILED (the
 * driver giving up may write anything), sets a bit before the one it follows (virtio 1.2 §3.1.1).
 */
export function addedStatusBits(name: string, status: number, value: number): number {
  const wanted = value & ~VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET;
  const current = status & ~VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET;
  if ((current & ~wanted) !== 0) throw new BusError(`${name}: status 0x${value.toString(16)} clears bits of 0x${current.toString(16)}; only a reset (0) clears status (§2.1.2)`);
  const added = wanted & ~current;
  if (added & VIRTIO_CONFIG_S_FAILED) return added;
  if (added & VIRTIO_CONFIG_S_DRIVER && !(wanted & VIRTIO_CONFIG_S_ACKNOWLEDGE)) throw new BusError(`${name}: DRIVER before ACKNOWLEDGE (§3.1.1)`);
  if (added & VIRTIO_CONFIG_S_FEATURES_OK && !(wanted & VIRTIO_CONFIG_S_DRIVER)) throw new BusError(`${name}: FEATURES_OK before DRIVER (§3.1.1)`);
  if (added & VIRTIO_CONFIG_S_DRIVER_OK && !(wanted & VIRTIO_CONFIG_S_FEATURES_OK)) throw new BusError(`${name}: DRIVER_OK before FEATURES_OK (§3.1.1)`);
  return added;
}
