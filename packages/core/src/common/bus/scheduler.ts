import { ConfigError } from '../errors.js';
import { macrotask } from './macrotask.js';

/**
 * Where deferred work runs: wakes delivered inside one thread and devices' deferred work. The
 * bus never decides *when*; the embedder does, through this interface.
 */
export interface Scheduler {
  /** Run `fn` soon, after the current task. Must never run it synchronously inside this call. */
  schedule(fn: () => void): void;
}

/** Inversify token for the {@link Scheduler}. */
export const Scheduler = Symbol.for('vbus-ts.Scheduler');

/**
 * The default: a microtask, the cheapest deferral the runtime has, with a budget per event-loop
 * turn. Microtasks run before the loop may turn, so a chain of them (a guest that keeps its ring
 * full, two responders echoing each other) would otherwise hold timers, sockets and every other
 * guest for as long as it lasts. Once more than {@link MicrotaskScheduler.freeTasks} tasks were
 * scheduled since the loop last turned, the scheduler watches the clock: past `turnBudgetMs` of
 * that turn, further tasks wait, in order, for the next turn (one macrotask), then run as
 * microtasks again. A turn with few tasks costs nothing more than queueMicrotask.
 */
export class MicrotaskScheduler implements Scheduler {
  /** Tasks a turn may schedule before the scheduler starts watching the clock. */
  static readonly freeTasks = 64;
  /** Longest a chain of tasks may hold one turn, in ms (the worst stall it adds, plus one task). */
  readonly turnBudgetMs: number;
  /** Tasks scheduled since the loop last turned (counted from 0 after each turn we saw). */
  private count = 0;
  /** A macrotask is armed to mark the next turn; `since` is when it was armed. */
  private armed = false;
  private since = 0;
  /** Past the budget: tasks go to `waiting` until the next turn. */
  private full = false;
  private waiting: Array<() => void> = [];
  private spare: Array<() => void> = [];
  /** Turns in which the budget ran out (introspection, tests). */
  yields = 0;

  constructor(options: { turnBudgetMs?: number } = {}) {
    const b = options.turnBudgetMs ?? 2;
    if (!Number.isFinite(b) || b <= 0 || b > 1000) throw new ConfigError('turnBudgetMs', b, 'must be a number of milliseconds in (0, 1000]');
    this.turnBudgetMs = b;
  }

  schedule(fn: () => void): void {
    if (this.full) {
      this.waiting.push(fn);
      return;
    }
    const n = ++this.count;
    if (n >= MicrotaskScheduler.freeTasks) {
      if (!this.armed) {
        this.armed = true;
        this.since = performance.now();
        macrotask(this.turned);
      } else if ((n & 15) === 0 && performance.now() - this.since > this.turnBudgetMs) {
        this.full = true;
        this.yields++;
        this.waiting.push(fn);
        return;
      }
    }
    queueMicrotask(fn);
  }

  /** The loop turned: a new budget; what waited runs now, oldest first, under it. */
  private readonly turned = (): void => {
    this.armed = false;
    this.full = false;
    this.count = 0;
    const run = this.waiting;
    this.waiting = this.spare;
    this.spare = run;
    for (let i = 0; i < run.length; i++) this.schedule(run[i]!);
    run.length = 0;
  };
}

/**
 * Virtual time for an embedding simulator: nothing runs until the embedder steps it. Events at the
 * same time run in the order they were scheduled, so two runs of the same scenario give the same
 * trace.
 */
export class VirtualTimeScheduler implements Scheduler {
  /** Current virtual time in nanoseconds. */
  now = 0;
  /** Delay of `schedule()` in virtual nanoseconds (the cost of a signal crossing). */
  latency: number;
  private seq = 0;
  /** Min-heap on (time, seq). */
  private heap: Array<{ time: number; seq: number; fn: () => void }> = [];
  /** Optional trace sink: one line per event run. */
  trace: ((time: number, label: string) => void) | undefined;

  constructor(options: { latencyNs?: number } = {}) {
    this.latency = options.latencyNs ?? 1000;
  }

  schedule(fn: () => void): void {
    this.at(this.now + this.latency, fn);
  }

  /** Run `fn` at virtual time `time` (not before now). */
  at(time: number, fn: () => void): void {
    const e = { time: Math.max(time, this.now), seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** Number of events waiting. */
  get pending(): number {
    return this.heap.length;
  }

  /** Run the earliest event; returns false if there was none. */
  step(): boolean {
    const h = this.heap;
    if (h.length === 0) return false;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    this.now = top.time;
    top.fn();
    return true;
  }

  /** Run events until none is left or `maxEvents` ran; returns the number run. */
  runUntilIdle(maxEvents = 10_000_000): number {
    let n = 0;
    while (n < maxEvents && this.step()) n++;
    return n;
  }

  /** Run every event due at or before `time`, then set the clock to `time`. */
  runUntil(time: number): number {
    let n = 0;
    while (this.heap.length > 0 && this.heap[0]!.time <= time) {
      this.step();
      n++;
    }
    this.now = Math.max(this.now, time);
    return n;
  }
}

function less(a: { time: number; seq: number }, b: { time: number; seq: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
