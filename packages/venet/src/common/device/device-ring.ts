import { IoqDeviceQueue, RingError, type QueueCounters, type ShmRegistration, type ShmSignal } from '@vbus/core';

/** One device queue: the IOQ's south end plus the slot index we are at (for error messages). */
export class DeviceRing {
  readonly q: IoqDeviceQueue;
  constructor(
    readonly reg: ShmRegistration,
    readonly signal: ShmSignal,
    readonly name: string,
    maxCount: number,
    readonly stats: QueueCounters,
  ) {
    this.q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, signal, name, maxCount);
  }
  /** Slot of the buffer {@link next} looks at (the queue keeps it: no second count per frame). */
  get pos(): number {
    return this.q.position;
  }
  get count(): number {
    return this.q.ioq.count;
  }
  next(): boolean {
    return this.q.next();
  }
  /** Complete the current buffer; with `more` it may stay unpublished until {@link publish} or {@link notify}. */
  complete(len: number, more = false): void {
    this.q.complete(len, more);
  }
  /** Publish completions kept back by `complete(len, true)`. */
  publish(): void {
    this.q.publish();
  }
  /**
   * A tx-complete signal within a drain pass (every N frames). When the driver's signal is still
   * dirty, a run of its handler is already due and the signal would be suppressed anyway: it is
   * counted as suppressed, and the completions are left to the batch's own publication (every
   * 32) or to {@link finishDeferred} at the end of the pass, instead of being published now.
   * That saves the publication's writes to the ring header, a line the driver writes on every
   * post. Returns false when it deferred.
   */
  notifyInPass(): boolean {
    const signal = this.signal;
    if (signal.peerDirty) {
      signal.counters.suppressed++;
      this.stats.suppressed++;
      return false;
    }
    this.notify();
    return true;
  }

  /**
   * End a pass whose last in-pass signal was deferred: publish, then signal only if the driver's
   * due run has happened meanwhile (its dirty flag is clear: that run may have missed these
   * completions). The signal is then the deferred one, raised after all: it leaves the
   * suppressed count, so a pass still raises exactly one signal per N frames. A dirty flag still
   * set after the publication means the run is still to come, and sees them.
   */
  finishDeferred(): void {
    this.q.publish();
    const signal = this.signal;
    if (signal.peerDirty) return;
    signal.counters.suppressed--;
    this.stats.suppressed--;
    this.notify();
  }

  /** Publish, then signal the driver. */
  notify(): void {
    if (this.q.notify()) this.stats.interrupts++;
    else this.stats.suppressed++;
  }
  violation(value: number | bigint, rule: string): RingError {
    return new RingError(this.name, this.pos, value, rule);
  }
}
