import { BusError, le, newQueueCounters, type GuestMemory, type QueueCounters, type ShmSignal } from '@vbus/core';
import { PackedQueueDevice } from '../virtqueue/packed-queue-device.js';
import { SplitQueueDevice } from '../virtqueue/split-queue-device.js';
import type { SplitQueueState } from '../virtqueue/split-ring.js';
import type { VirtqueueDevice } from '../virtqueue/virtqueue.js';

/** One queue of one connection, as the transport tracks it. */
export interface QueueSlot {
  readonly index: number;
  readonly name: string;
  readonly maxSize: number;
  size: number;
  areas: { desc: number; driver: number; device: number } | null;
  /** Where the ring starts when enabled (QUEUE_SET_STATE); null: at 0. */
  start: SplitQueueState | null;
  /** The ring, once the driver enabled the queue. */
  queue: VirtqueueDevice | null;
  /** South endpoint of the queue's signal (registered with shm id = queue index). */
  signal: ShmSignal | undefined;
  readonly counters: QueueCounters;
}

/** The ring features a queue is enabled with (negotiated for the whole device). */
export interface QueueRingFeatures {
  eventIdx: boolean;
  indirect: boolean;
  packed: boolean;
  /** VIRTIO_F_IN_ORDER (split rings batch their used elements; the packed device writes each). */
  inOrder: boolean;
}

/** A queue slot as the device starts (and a reset leaves it): full size, no ring, no areas. */
export function newQueueSlot(index: number, name: string, maxSize: number): QueueSlot {
  return { index, name, maxSize, size: maxSize, areas: null, start: null, queue: null, signal: undefined, counters: newQueueCounters() };
}

/** QUEUE_SET_SIZE: the driver's queue size, refused (slot unchanged) unless in 1..maxSize. */
export function setQueueSize(slot: QueueSlot, size: number): void {
  if (size < 1 || size > slot.maxSize) throw new BusError(`${slot.name}: queue size ${size} is not in 1..${slot.maxSize}`);
  slot.size = size;
}

/** QUEUE_SET_ADDR: the three ring areas from the call's argument (desc u64, driver u64, device u64). */
export function setQueueAreas(slot: QueueSlot, data: Uint8Array): void {
  if (data.length < 24) throw new BusError(`${slot.name}: ring addresses need 24 bytes (desc u64, driver u64, device u64)`);
  slot.areas = { desc: le.getU64(data, 0), driver: le.getU64(data, 8), device: le.getU64(data, 16) };
}

/** QUEUE_SET_STATE: where a split ring starts, refused (slot unchanged) unless both are u16 indices. */
export function setQueueStart(slot: QueueSlot, nextAvail: number, nextUsed: number): void {
  if (nextAvail > 0xffff || nextUsed > 0xffff) throw new BusError(`${slot.name}: ring state ${nextAvail}/${nextUsed} is not a pair of u16 indices`);
  slot.start = { nextAvail, nextUsed };
}

/** Forget the slot's ring and setup (reset, close); the signal and the counters stay. */
export function clearQueueSlot(slot: QueueSlot): void {
  slot.queue = null;
  slot.areas = null;
  slot.start = null;
  slot.size = slot.maxSize;
}

/**
 * QUEUE_ENABLE: make the slot's ring from the areas, size and start state the driver set. Throws a
 * BusError, and leaves the slot as it was, if a piece is missing or the ring does not fit.
 */
export function enableQueueSlot(slot: QueueSlot, memory: GuestMemory, features: QueueRingFeatures): void {
  if (slot.areas === null) throw new BusError(`${slot.name}: set the ring addresses before enabling the queue`);
  if (slot.signal === undefined) throw new BusError(`${slot.name}: register the queue's shm (id ${slot.index}) with a signal before enabling it`);
  const common = { name: slot.name, memory, size: slot.size, eventIdx: features.eventIdx, indirect: features.indirect, inOrder: features.inOrder };
  // the constructors check size, alignment and bounds and write nothing when they refuse
  if (slot.start !== null && features.packed) throw new BusError(`${slot.name}: a start state is for split rings only`);
  slot.queue = features.packed
    ? new PackedQueueDevice({ ...common, descRing: slot.areas.desc, driverEvent: slot.areas.driver, deviceEvent: slot.areas.device })
    : new SplitQueueDevice({ ...common, descTable: slot.areas.desc, availRing: slot.areas.driver, usedRing: slot.areas.device, ...slot.start });
}
