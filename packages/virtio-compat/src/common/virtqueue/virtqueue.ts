import type { GuestMemory, RingError } from '@vbus/core';
import type { DescriptorChain } from './descriptor-chain.js';
import type { Segment } from './descriptor.js';

/**
 * The two halves of a virtqueue as devices and drivers code against them, whatever the ring
 * layout (split or packed). A virtio device written against {@link VirtqueueDevice} runs on
 * either ring; so does a driver written against {@link VirtqueueDriver}.
 */

/** Options common to both halves and both layouts. */
export interface VirtqueueOptions {
  /** Name used in errors, e.g. `"virtio-net0.rx0"`. */
  readonly name: string;
  /** The guest memory holding the rings and the buffers. */
  readonly memory: GuestMemory;
  /** Queue size N. */
  readonly size: number;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIdx?: boolean;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect?: boolean;
  /**
   * VIRTIO_F_IN_ORDER was negotiated (§2.7.9; split rings: the packed driver refuses it, the
   * packed device uses buffers in order and writes every used element). A split device then
   * must use buffers in the order it popped them (`addUsed` with another id is a ConfigError)
   * and writes one used element per batch; a split driver places descriptors in ring order and
   * leaves descriptor fields and avail entries that already hold the value unwritten.
   */
  readonly inOrder?: boolean;
}

/**
 * Device side ("south"). Every value read from the ring is checked; a broken rule raises a
 * {@link RingError} naming the queue, the index and the rule, and the queue stays failed: every
 * later ring operation throws the same error (the transport sets DEVICE_NEEDS_RESET).
 */
export interface VirtqueueDevice {
  readonly name: string;
  readonly size: number;
  /** True once the guest broke a rule. */
  readonly failed: boolean;
  /** The error that failed the queue, or null. */
  readonly error: RingError | null;
  /** True if a chain is available to pop (does not validate it). */
  hasAvailable(): boolean;
  /**
   * Take the next available chain, copied and checked, or null if there is none. Fills `into`
   * if given, else a chain object owned by the queue and reused by the next pop.
   */
  popChain(into?: DescriptorChain): DescriptorChain | null;
  /**
   * Return a chain (by `chain.id`) with `len` bytes written into its writable part. With `more`,
   * more buffers follow at once: the element is written but its publication (the used index, one
   * sequentially consistent store the driver's thread must fetch) may wait for the batch, as
   * vhost publishes a batch of used buffers at once. A batch is published by the next `addUsed`
   * without `more`, by {@link needsNotification}, and whenever {@link USED_PUBLISH_BATCH} elements
   * are waiting, so a long drain keeps returning buffers. Without `more`, published at once.
   */
  addUsed(id: number, len: number, more?: boolean): void;
  /** After a batch of `addUsed`: publishes it; true if the driver wants a used-buffer notification now. */
  needsNotification(): boolean;
  /**
   * Ask the driver for available-buffer notifications again. Returns true if buffers became
   * available meanwhile (the caller must then keep polling: no kick is coming for them).
   */
  enableNotification(): boolean;
  /** Tell the driver not to notify (the device is polling). */
  disableNotification(): void;
}

/** A buffer the device gave back, as seen by the driver. Reused by the next `getUsed`. */
export interface UsedBuffer<T> {
  /** The token passed to `add`. */
  token: T;
  /**
   * Bytes the device wrote. With IN_ORDER, a buffer the device's used element skipped (not the
   * last of its batch) counts as used completely: its device-writable total (§2.7.9).
   */
  len: number;
  /** Head index (split) or buffer id (packed). */
  id: number;
}

/**
 * Used elements a device half leaves unpublished at most while `addUsed(.., more)` batches them:
 * enough to turn one store per buffer into one per batch, few enough that a driver reclaiming
 * while a long drain runs is never kept waiting for a whole ring (vhost-net batches 64).
 */
export const USED_PUBLISH_BATCH = 32;
/** Buffers a driver half leaves unpublished at most while `add(.., { more })` batches them (as above, for the device's side). */
export const AVAIL_PUBLISH_BATCH = 16;

/** Options of one `add`. */
export interface AddOptions {
  /** Put the segments in an indirect table (needs VIRTIO_F_INDIRECT_DESC). */
  readonly indirect?: boolean;
  /**
   * More buffers follow at once (Linux's xmit_more): the buffer is written but published to the
   * device (the avail index, one sequentially consistent store) with the batch, by the next `add`
   * without `more`, by `needsKick()`, or when {@link AVAIL_PUBLISH_BATCH} are waiting. Call
   * `needsKick()` after the batch, as always.
   */
  readonly more?: boolean;
}

/** Where {@link VirtqueueDriver.takeUsed} puts the tokens of used buffers. */
export interface UsedTokenSink<T> {
  /** Take the token of one used buffer (called in the order the buffers were used). */
  push(token: T): void;
}

/** Driver side ("north"). */
export interface VirtqueueDriver<T = unknown> {
  readonly name: string;
  readonly size: number;
  /** Free ring slots (descriptors) left. */
  readonly numFree: number;
  /** Buffers added and not yet returned. */
  readonly inFlight: number;
  readonly failed: boolean;
  readonly error: RingError | null;
  /**
   * Make a buffer available: device-readable segments first, then device-writable ones. Returns
   * false (and changes nothing) if the ring has no room. `token` comes back from `getUsed`.
   */
  add(readable: readonly Segment[], writable: readonly Segment[], token: T, options?: AddOptions): boolean;
  /** After a batch of `add`: publishes it; true if the device wants an available-buffer notification (kick). */
  needsKick(): boolean;
  /** The next used buffer, or null. The returned object is reused by the next call. */
  getUsed(): UsedBuffer<T> | null;
  /**
   * Take every used buffer waiting, in the order `getUsed` would return them, giving each token
   * to `sink`; returns how many. For a driver that needs only the tokens (a tx queue's
   * free_old_xmit): with IN_ORDER a batch the device named with one element is taken in one
   * loop, and used_event is written once per batch instead of once per buffer.
   */
  takeUsed(sink: UsedTokenSink<T>): number;
  /** True if a used buffer is waiting. */
  hasUsed(): boolean;
  /** Ask for used-buffer notifications; true if used buffers arrived meanwhile (poll them). */
  enableInterrupts(): boolean;
  /**
   * Like {@link enableInterrupts} but, with EVENT_IDX, asks to be notified only when about 3/4
   * of the outstanding buffers are used (Linux's virtqueue_enable_cb_delayed). True if that many
   * are already used (poll them).
   */
  enableInterruptsDelayed(): boolean;
  /** Tell the device not to notify (the driver is polling). */
  disableInterrupts(): void;
}
