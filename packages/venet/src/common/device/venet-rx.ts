/**
 * venet's receive path: a frame from the backend goes into the next posted rx buffer and the
 * guest is signalled. With a burst threshold, frames arriving closer together than it are queued
 * (a copy) and placed from the device's bottom half, one signal per batch; the backlog is bounded
 * by the ring size and whatever it cannot place is counted as a drop, never lost silently. A
 * burst the backend delivers with `more` is published and signalled once, when it ends.
 */
import type { DeviceRing } from './device-ring.js';
import type { VenetPathHost } from './venet-context.js';

export class VenetRxPath {
  private lastRxAt = -Infinity;
  private readonly backlog: Uint8Array[] = [];
  private drainScheduled = false;
  /** Frames of an open burst (delivered with `more`) were placed: the guest is notified at its end. */
  private burstPlaced = false;

  constructor(
    private readonly host: VenetPathHost,
    readonly ring: DeviceRing,
  ) {}

  /** The rx signal's handler: the guest posted buffers; place what waits for them. */
  onKick(): void {
    this.host.ctx.stats.rx.kicks++;
    if (this.backlog.length > 0) this.host.guard('rx', () => this.drainBacklog());
  }

  /** A frame from the backend for the guest. False (counted as a drop) if it could not be placed. */
  receive(frame: Uint8Array, more = false): boolean {
    const host = this.host;
    const ctx = host.ctx;
    const threshold = ctx.config.burstThresholdUs;
    if (threshold !== undefined) {
      const now = ctx.now();
      const gapUs = (now - this.lastRxAt) * 1000;
      this.lastRxAt = now;
      if (gapUs < threshold || this.backlog.length > 0) {
        // throughput mode: queue a copy and deliver from the device's bottom half
        let queued = false;
        if (this.backlog.length >= this.ring.count) {
          ctx.rxDrops.backlogFull++;
          ctx.stats.rx.drops++;
        } else {
          queued = true;
          this.backlog.push(frame.slice());
          if (!this.drainScheduled) {
            this.drainScheduled = true;
            ctx.defer(() => {
              this.drainScheduled = false;
              if (host.live) host.guard('rx', () => this.drainBacklog());
            });
          }
        }
        // a frame without more ends a burst whose earlier frames were placed inline
        if (!more) this.endBurst();
        return queued;
      }
    }
    let ok = false;
    host.guard('rx', () => {
      // placed unpublished; published and signalled with the burst's end, which a frame
      // without more is (so a lone frame is signalled at once, as before bursts)
      ok = this.place(frame);
      if (ok) this.burstPlaced = true;
      if (!more && this.burstPlaced) {
        this.burstPlaced = false;
        this.ring.notify();
      }
    });
    return ok;
  }

  /** A burst from the backend ended: publish what it placed and notify the guest once. */
  endBurst(): void {
    if (!this.burstPlaced) return;
    this.burstPlaced = false;
    this.host.guard('rx', () => this.ring.notify());
  }

  private drainBacklog(): void {
    let placed = 0;
    // like the inline path: a frame with no posted buffer is a counted drop
    while (this.backlog.length > 0 && this.host.linkUp) if (this.place(this.backlog.shift()!)) placed++;
    if (placed > 0) this.ring.notify();
  }

  /** Copy a frame into the next posted rx buffer, unpublished (the caller's notify publishes it). Throws RingError on an ABI violation. */
  private place(frame: Uint8Array): boolean {
    const rx = this.ring;
    const drops = this.host.ctx.rxDrops;
    if (!rx.next()) {
      drops.noBuffer++;
      rx.stats.drops++;
      return false;
    }
    const ptr = rx.q.ptr;
    const len = rx.q.len;
    if (frame.length > len) {
      drops.tooBig++;
      rx.stats.drops++;
      return false;
    }
    if (!rx.reg.memory.contains(ptr, frame.length)) throw rx.violation(ptr, `rx buffer at 0x${ptr.toString(16)}+${len} is outside guest memory`);
    rx.reg.memory.copyIn(ptr, frame, 0, frame.length);
    rx.complete(frame.length, true);
    rx.stats.frames++;
    rx.stats.bytes += frame.length;
    return true;
  }

  /** FLUSHRX: give every posted buffer back empty, and drop the backlog. */
  flush(): void {
    const rx = this.ring;
    let n = 0;
    while (n < rx.count && rx.next()) {
      rx.complete(0);
      n++;
    }
    this.discardBacklog();
    if (n > 0) rx.notify();
  }

  /**
   * Frames taken into the burst backlog (the backend was told they were delivered) that will
   * not be placed now: link down, FLUSHRX, close. Counted as rx drops, never lost silently.
   */
  discardBacklog(): void {
    const n = this.backlog.length;
    if (n === 0) return;
    this.backlog.length = 0;
    this.host.ctx.rxDrops.backlogDiscarded += n;
    this.host.ctx.stats.rx.drops += n;
  }
}
