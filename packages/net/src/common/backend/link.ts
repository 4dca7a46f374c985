/**
 * A link model: latency, bandwidth and a bounded queue for the frames that cross one direction of
 * a switch port or a patch cable. A frame of `n` bytes that enters at time `t` starts to be sent
 * when the link is free (`start = max(t, busyUntil)`), takes `8n / bitsPerSecond` seconds to
 * send, and arrives `delayMs` after its last bit: `arrival = start + 8n/rate + delay`, on the
 * scheduler's clock (exact in virtual time, to its resolution). Frames arrive in the order they
 * entered. A frame that finds the queue full is dropped and counted, as a NIC's transmit queue
 * drops (Linux's txqueuelen).
 *
 * Ownership: a frame is valid only during `deliver` (net-backend.ts), so a modelled link keeps a
 * copy; the default (no link) path in the switch and cable never reaches this module.
 */
import { ConfigError, type Cancel, type Scheduler } from '@vbus/core';
import type { FrameOffload } from './net-backend.js';

/** How a link behaves, per direction. Every field is optional; an empty model is an ideal wire. */
export interface LinkOptions {
  /** One-way latency in ms (propagation: it adds to every frame's arrival). Default 0. */
  delayMs?: number;
  /** Bandwidth in bits per second (serialization: a frame of n bytes occupies the link 8n/rate s). Default: unlimited. */
  bitsPerSecond?: number;
  /**
   * The most frames the link holds waiting: queued behind the frame being sent or, on a link of
   * unlimited bandwidth, still propagating. A frame beyond it is dropped and counted. Default 1000
   * (Linux's txqueuelen).
   */
  queueFrames?: number;
}

/** A checked {@link LinkOptions}. */
export interface LinkModel {
  readonly delayMs: number;
  /** Infinity for unlimited. */
  readonly bitsPerSecond: number;
  readonly queueFrames: number;
}

/** What one direction of a link did. */
export interface LinkStats {
  /** Frames and bytes that arrived at the far end. */
  frames: number;
  bytes: number;
  /** Frames dropped because the queue was full. */
  drops: number;
  /** Frames on the link now (waiting, being sent, propagating). */
  inFlight: number;
  /** The most frames that waited at once. */
  maxQueued: number;
}

/** Default {@link LinkOptions.queueFrames}. */
export const LINK_DEFAULT_QUEUE_FRAMES = 1000;

/** Check link options (a ConfigError names the field under `option`); undefined when the link is ideal (no delay, unlimited bandwidth). */
export function checkLinkOptions(link: LinkOptions | undefined, option = 'link'): LinkModel | undefined {
  if (link === undefined) return undefined;
  if (typeof link !== 'object' || link === null) throw new ConfigError(option, link, 'must be an object { delayMs?, bitsPerSecond?, queueFrames? }');
  const delayMs = link.delayMs ?? 0;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0)
    throw new ConfigError(`${option}.delayMs`, link.delayMs, 'must be a finite number of milliseconds, 0 or more');
  const bitsPerSecond = link.bitsPerSecond ?? Infinity;
  if (typeof bitsPerSecond !== 'number' || !(bitsPerSecond > 0))
    throw new ConfigError(`${option}.bitsPerSecond`, link.bitsPerSecond, 'must be a positive number of bits per second');
  const queueFrames = link.queueFrames ?? LINK_DEFAULT_QUEUE_FRAMES;
  if (!Number.isSafeInteger(queueFrames) || queueFrames < 1) throw new ConfigError(`${option}.queueFrames`, link.queueFrames, 'must be a positive integer');
  if (delayMs === 0 && bitsPerSecond === Infinity) return undefined;
  return { delayMs, bitsPerSecond, queueFrames };
}

/** A frame on the link. */
interface OnWire {
  frame: Uint8Array;
  offload: FrameOffload | undefined;
  /** When its last bit has been sent (ms). */
  sentAt: number;
  /** When it reaches the far end (ms). */
  arrival: number;
}

/**
 * One direction of a modelled link. Frames are kept in arrival order (arrival times never
 * decrease: the link sends in order and the delay is constant) and one timer is armed for the
 * earliest, so the cost is one scheduler task per burst of frames due together.
 */
export class LinkLane {
  readonly stats: LinkStats = { frames: 0, bytes: 0, drops: 0, inFlight: 0, maxQueued: 0 };
  private readonly wire: OnWire[] = [];
  /** Index in `wire` of the first frame not yet delivered. */
  private head = 0;
  /** Index in `wire` of the first frame whose last bit has not left yet (at the last look). */
  private sending = 0;
  /** Inside {@link arrive}: it arms the timer itself once its loop is done. */
  private arriving = false;
  /** When the link finishes sending what it has (ms). */
  private busyUntil = -Infinity;
  private timer: Cancel | undefined;

  constructor(
    readonly model: LinkModel,
    private readonly scheduler: Scheduler,
    /** The far end: called with each frame when it arrives. Its result is its own business (it counts its drops). */
    private readonly farEnd: (frame: Uint8Array, offload: FrameOffload | undefined) => boolean,
  ) {}

  /**
   * Frames waiting (what `queueFrames` bounds) at time `now`: with a bandwidth, those queued
   * behind the frame being sent; with unlimited bandwidth, those propagating.
   */
  queued(now: number): number {
    const wire = this.wire;
    if (this.model.bitsPerSecond === Infinity) return wire.length - this.head;
    // frames are sent in order: advance past those whose last bit has left
    if (this.sending < this.head) this.sending = this.head;
    while (this.sending < wire.length && wire[this.sending]!.sentAt <= now) this.sending++;
    const unsent = wire.length - this.sending;
    return unsent > 0 ? unsent - 1 : 0;
  }

  /** Take a frame onto the link (a copy). False, and a counted drop, when the queue is full. */
  send(frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    const now = this.scheduler.now();
    const m = this.model;
    const unlimited = m.bitsPerSecond === Infinity;
    // a frame waits when the link is still sending (or, unlimited, joins the frames propagating)
    const waits = unlimited ? this.head < this.wire.length : this.busyUntil > now;
    const waiting = waits ? this.queued(now) : 0;
    if (waits && waiting >= m.queueFrames) {
      this.stats.drops++;
      return false;
    }
    if (waits && waiting + 1 > this.stats.maxQueued) this.stats.maxQueued = waiting + 1;
    const idle = this.head === this.wire.length;
    const start = now > this.busyUntil ? now : this.busyUntil;
    const sentAt = unlimited ? start : start + (frame.length * 8 * 1000) / m.bitsPerSecond;
    this.busyUntil = sentAt;
    const arrival = sentAt + m.delayMs;
    this.wire.push({ frame: frame.slice(), offload: offload === undefined ? undefined : { ...offload }, sentAt, arrival });
    this.stats.inFlight++;
    // the earliest frame owns the timer; inside arrive() the timer is re-armed for the head after the loop
    if (idle && this.timer === undefined && !this.arriving) this.timer = this.scheduler.at(arrival, this.arrive);
    return true;
  }

  /** Drop what is on the link (the port or cable went away); returns how many frames. */
  clear(): number {
    this.timer?.();
    this.timer = undefined;
    const n = this.wire.length - this.head;
    this.wire.length = 0;
    this.head = 0;
    this.sending = 0;
    this.stats.inFlight = 0;
    return n;
  }

  /** Deliver every frame due by now, in order, then arm the timer for the next. */
  private readonly arrive = (): void => {
    this.timer = undefined;
    const now = this.scheduler.now();
    const wire = this.wire;
    this.arriving = true;
    try {
      // the head is due: the timer was armed for it (a clock that rounds, as virtual time does to
      // 1 ns, may read a hair before the computed time); the rest go if due by the clock
      let due = true;
      while (this.head < wire.length && (due || wire[this.head]!.arrival <= now)) {
        due = false;
        const f = wire[this.head]!;
        wire[this.head++] = undefined as unknown as OnWire;
        this.stats.inFlight--;
        this.stats.frames++;
        this.stats.bytes += f.frame.length;
        this.farEnd(f.frame, f.offload);
      }
    } finally {
      this.arriving = false;
      if (this.head === wire.length) {
        wire.length = 0;
        this.head = 0;
        this.sending = 0;
      } else {
        // compact now and then, so a link that never drains does not grow without bound
        if (this.head > 1024 && this.head * 2 > wire.length) {
          wire.splice(0, this.head);
          this.sending = Math.max(0, this.sending - this.head);
          this.head = 0;
        }
        this.timer = this.scheduler.at(wire[this.head]!.arrival, this.arrive);
      }
    }
  };
}
