import { ConfigError } from '../errors.js';
import { checkTime } from './check-time.js';
import type { Cancel, Scheduler } from './scheduler.js';

/** One task in the queue; `fn` is null once it ran or was cancelled. */
interface VirtualEvent {
  readonly timeNs: number;
  readonly seq: number;
  fn: (() => void) | null;
}

/**
 * Virtual time for an embedding simulator: nothing runs until the embedder steps it
 * ({@link step}, {@link runUntilIdle}, {@link runUntil}, {@link runFor}, or
 * {@link runUntilSettled}). Tasks run in order of time, then of scheduling, so two runs of
 * the same scenario give the same trace. It is also the {@link Clock} of the simulation:
 * `createVbus` binds the Clock to it when it is the embedder's scheduler.
 *
 * Time is kept as a whole number of nanoseconds (exact, whatever the number of steps) and read
 * in milliseconds through {@link now} like every other clock; {@link nowNs} gives the exact count.
 * "Soon" ({@link schedule}) costs `latencyNs` of virtual time: the price of a signal crossing.
 */
export class VirtualTimeScheduler implements Scheduler {
  /** Delay of `schedule()` in virtual nanoseconds (the cost of a signal crossing). */
  readonly latencyNs: number;
  private currentNs = 0;
  private seq = 0;
  /** Tasks not yet run nor cancelled. */
  private live = 0;
  /** Min-heap on (timeNs, seq); cancelled tasks stay until popped or compacted. */
  private heap: VirtualEvent[] = [];

  constructor(options: { latencyNs?: number } = {}) {
    const l = options.latencyNs ?? 1000;
    if (!Number.isSafeInteger(l) || l < 0) throw new ConfigError('latencyNs', l, 'must be a whole number of nanoseconds, 0 or more');
    this.latencyNs = l;
  }

  /** Current virtual time in milliseconds (fractional). */
  now(): number {
    return this.currentNs / 1e6;
  }

  /** Current virtual time in whole nanoseconds. */
  get nowNs(): number {
    return this.currentNs;
  }

  schedule(fn: () => void): void {
    this.push(this.currentNs + this.latencyNs, fn);
  }

  /** Run `fn` at virtual time `timeMs` (resolution 1 ns; a time already past means now). */
  at(timeMs: number, fn: () => void): Cancel {
    checkTime('timeMs', timeMs);
    return this.push(Math.round(timeMs * 1e6), fn);
  }

  after(delayMs: number, fn: () => void): Cancel {
    checkTime('delayMs', delayMs);
    return this.push(this.currentNs + Math.round(delayMs * 1e6), fn);
  }

  /** Number of tasks waiting (cancelled ones not counted). */
  get pending(): number {
    return this.live;
  }

  /** Time in ms of the earliest waiting task, or undefined when none waits. */
  next(): number | undefined {
    this.dropCancelled();
    const top = this.heap[0];
    return top === undefined ? undefined : top.timeNs / 1e6;
  }

  /** Run the earliest task, moving the clock to its time; returns false if none was waiting. */
  step(): boolean {
    this.dropCancelled();
    const e = this.pop();
    if (e === undefined) return false;
    const fn = e.fn!;
    e.fn = null;
    this.live--;
    this.currentNs = e.timeNs;
    fn();
    return true;
  }

  /** Run tasks until none is left or `maxEvents` ran; returns the number run. */
  runUntilIdle(maxEvents = 10_000_000): number {
    let n = 0;
    while (n < maxEvents && this.step()) n++;
    return n;
  }

  /** Run every task due at or before `timeMs`, then set the clock to `timeMs` (never backwards). */
  runUntil(timeMs: number): number {
    checkTime('timeMs', timeMs);
    const limitNs = Math.round(timeMs * 1e6);
    let n = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (top === undefined || top.timeNs > limitNs) break;
      this.step();
      n++;
    }
    this.currentNs = Math.max(this.currentNs, limitNs);
    return n;
  }

  /** Run for `delayMs` of virtual time: `runUntil(now() + delayMs)`. */
  runFor(delayMs: number): number {
    checkTime('delayMs', delayMs);
    return this.runUntil((this.currentNs + Math.round(delayMs * 1e6)) / 1e6);
  }

  private push(timeNs: number, fn: () => void): Cancel {
    const e: VirtualEvent = { timeNs: Math.max(timeNs, this.currentNs), seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
    this.live++;
    return () => {
      if (e.fn === null) return;
      e.fn = null;
      this.live--;
      // many cancelled timers far in the future (a re-armed timeout) must not pile up
      if (this.heap.length > 64 && this.live < this.heap.length >> 1) this.compact();
    };
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === null) this.pop();
  }

  private pop(): VirtualEvent | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      siftDown(h, 0);
    }
    return top;
  }

  private compact(): void {
    const h = this.heap.filter((e) => e.fn !== null);
    for (let i = (h.length >> 1) - 1; i >= 0; i--) siftDown(h, i);
    this.heap = h;
  }
}

function siftDown(h: VirtualEvent[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && less(h[l]!, h[m]!)) m = l;
    if (r < h.length && less(h[r]!, h[m]!)) m = r;
    if (m === i) return;
    [h[m], h[i]] = [h[i]!, h[m]!];
    i = m;
  }
}

function less(a: VirtualEvent, b: VirtualEvent): boolean {
  return a.timeNs < b.timeNs || (a.timeNs === b.timeNs && a.seq < b.seq);
}
