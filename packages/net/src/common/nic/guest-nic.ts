/**
 * The guest side of a NIC, whichever plugin drives it: what a guest network stack (the
 * {@link GuestResponder}, the CLI's guest, the benchmarks, the soak) needs of a NIC driver.
 * VenetDriver and VirtioNetDriver implement it, so code above them is written once.
 */
import type { SignalCounters } from '@vbus/core';
import type { FrameOffload } from '../backend/net-backend.js';

/**
 * Options of one {@link GuestNic.send}. On a hot path, pass one of the frozen constants
 * ({@link SEND_NOW}, {@link SEND_MORE}) or an object of your own reused per call: sending
 * allocates nothing.
 */
export interface NicSendOptions {
  /**
   * More frames follow (Linux's xmit_more): leave the kick to the last frame or
   * {@link GuestNic.flush}. The driver may also keep the frame from the device until then (both
   * drivers publish a batch's buffers together, at most 32 at a time), so end every batch with a
   * frame without `more` or a flush.
   */
  readonly more?: boolean;
  /** Checksum or segmentation offload for this frame, when the NIC negotiated it. */
  readonly offload?: Partial<FrameOffload>;
}

/** Send and kick now (unless the device asked not to be notified). */
export const SEND_NOW: NicSendOptions = Object.freeze({ more: false });
/** Send; more frames follow, so do not kick yet. */
export const SEND_MORE: NicSendOptions = Object.freeze({ more: true });

/** Each received frame; the frame and the offload object are valid only during the call (copy what you keep). */
export type FrameHandler = (frame: Uint8Array, offload?: FrameOffload) => void;

/** What every guest NIC counts, in the same terms whichever plugin it is. */
export interface GuestNicStats {
  /** Frames and bytes the driver accepted for transmit. */
  txFrames: number;
  txBytes: number;
  /** Frames and bytes handed to {@link GuestNic.onFrame}. */
  rxFrames: number;
  rxBytes: number;
  /** Sends refused (ring full, frame too big) and received buffers thrown away as malformed. */
  drops: number;
  /** Notifications to the device that crossed, and those the shared-memory signal suppressed. */
  kicks: number;
  suppressed: number;
  /** Notifications from the device taken (rx, tx-complete and event interrupts). */
  interrupts: number;
}

/** The shm-signal counters of a NIC's rings, for measurements of notification economy. */
export interface NicSignalCounters {
  /** tx ring: injected = kicks that crossed, suppressed = kicks saved, wakeups = tx-complete interrupts. */
  tx: SignalCounters;
  /** rx ring: wakeups = rx interrupts. */
  rx: SignalCounters;
  /** Event ring, if the NIC has one. */
  events?: SignalCounters | undefined;
}

/** A guest NIC driver. */
export interface GuestNic {
  /** The plugin: `"venet"`, `"virtio-net"`... */
  readonly kind: string;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly linkUp: boolean;
  /**
   * Received frames (NAPI: called from the driver's poll; a send made here is kicked once when the
   * poll ends). Until it is first set, received frames wait in the rx ring (once it is full the
   * device counts drops): a frame is never consumed with nobody to take it.
   *
   * The one settable handler in the public API, by rule: notifications are eventemitter3 events,
   * but a frame is the per-frame hot path, where an emit (listener array walk, argument
   * spreading) costs a measurable share of a 64-byte frame and a frame has exactly one consumer
   * (its view is valid only during the call).
   */
  onFrame: FrameHandler;
  /** Send one frame; false when it was refused (ring full, too big), counted as a drop. */
  send(frame: Uint8Array, options?: NicSendOptions): boolean;
  /**
   * Called when tx buffers were freed after `send()` refused a frame because the ring was full
   * (Linux's netif_wake_queue after netif_stop_queue): a sender waits for it instead of polling,
   * so it leaves the CPU to the device. Called from the driver's tx-complete interrupt (or a
   * microtask, when buffers were already free as the refusal returned); at most once per stop.
   */
  onTxWake: () => void;
  /** Kick the device for frames sent with `more`, if it wants a notification. */
  flush(): void;
  /** A snapshot of the counters. */
  stats(): GuestNicStats;
  /** The signal counters of queue pair 0 (live objects, not copies). */
  signalCounters(): NicSignalCounters;
  /** Frames sent that the device has not completed yet (completions are reaped first). */
  txPending(): number;
  /** Close the connection. */
  close(): Promise<void>;
}

/** Something that transmits through a function and takes received frames: the {@link GuestResponder}. */
export interface NicPeer {
  /** Take a frame that arrived on the NIC. */
  receive(frame: Uint8Array): unknown;
  /** Give the peer the function it sends frames with. */
  setTransmit(transmit: (frame: Uint8Array) => boolean): void;
}

/** Run `peer` on `nic`: its frames go out through `send`, received frames go to its `receive`. */
export function attachPeer(nic: GuestNic, peer: NicPeer): void {
  peer.setTransmit((f) => nic.send(f));
  nic.onFrame = (f) => {
    peer.receive(f);
  };
}
