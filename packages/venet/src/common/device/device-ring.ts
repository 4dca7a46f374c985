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
  /** A tx-complete signal within a drain pass ({@link IoqDeviceQueue.notifyInPass}: it may be deferred). */
  notifyInPass(): void {
    if (this.q.notifyInPass()) this.stats.interrupts++;
    else this.stats.suppressed++;
  }

  /**
   * End a pass whose last signal was deferred ({@link IoqDeviceQueue.settleDeferred}); a
   * signal raised after all replaces the suppressed one counted for it.
   */
  settleDeferred(): void {
    const crossed = this.q.settleDeferred();
    if (crossed === undefined) return;
    this.stats.suppressed--;
    if (crossed) this.stats.interrupts++;
    else this.stats.suppressed++;
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
