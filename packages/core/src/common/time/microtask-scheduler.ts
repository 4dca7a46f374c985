import { ConfigError } from '../errors.js';
import { systemClock, type Clock } from './clock.js';
import { macrotask } from './macrotask.js';
import { MicrotaskQueue } from './microtask-queue.js';
import type { Cancel, Scheduler } from './scheduler.js';
import { checkTime } from './check-time.js';

/** Longest delay one `setTimeout` takes (2^31-1 ms); longer timers re-arm when it fires. */
const MAX_TIMER_MS = 0x7fff_ffff;

/**
 * The default scheduler, in real time. "Soon" is a microtask, the cheapest deferral the runtime
 * has, with a budget per event-loop turn; timed tasks are the platform's timers, checked against
 * the clock when they fire (a timer that fires early re-arms, so a task never runs before its time).
 *
 * The budget: microtasks run before the loop may turn, so a chain of them (a guest that keeps its
 * ring full, two responders echoing each other) would otherwise hold timers, sockets and every
 * other guest for as long as it lasts. Once more than {@link MicrotaskScheduler.freeTasks} tasks
 * were scheduled since the loop last turned, the scheduler watches the clock: past `turnBudgetMs`
 * of that turn, further tasks wait, in order, for the next turn (one macrotask), then run as
 * microtasks again. A turn with few tasks costs nothing more than a microtask (a promise job: Node's
 * queueMicrotask costs three times as much, see MicrotaskQueue).
 *
 * A pending timed task keeps a Node process alive, as any timer does: cancel what you armed.
 */
export class MicrotaskScheduler implements Scheduler {
  /** Tasks a turn may schedule before the scheduler starts watching the clock. */
  static readonly freeTasks = 64;
  /** Longest a chain of tasks may hold one turn, in ms (the worst stall it adds, plus one task). */
  readonly turnBudgetMs: number;
  /** The clock `now()`, `at()` and the budget read (default {@link systemClock}). */
  readonly clock: Clock;
  /** Tasks scheduled since the loop last turned (counted from 0 after each turn we saw). */
  private count = 0;
  /** A macrotask is armed to mark the next turn; `since` is when it was armed. */
  private armed = false;
  private since = 0;
  /** Past the budget: tasks go to `waiting` until the next turn. */
  private full = false;
  private waiting: Array<() => void> = [];
  private spare: Array<() => void> = [];
  /** The microtasks themselves: queueMicrotask's order at a third of its cost (MicrotaskQueue). */
  private readonly microtasks = new MicrotaskQueue();
  /** Turns in which the budget ran out (introspection, tests). */
  yields = 0;

  constructor(options: { turnBudgetMs?: number; clock?: Clock } = {}) {
    const b = options.turnBudgetMs ?? 2;
    if (!Number.isFinite(b) || b <= 0 || b > 1000) throw new ConfigError('turnBudgetMs', b, 'must be a number of milliseconds in (0, 1000]');
    this.turnBudgetMs = b;
    this.clock = options.clock ?? systemClock;
  }

  now(): number {
    return this.clock.now();
  }

  /** One macrotask: `setImmediate` under Node, a MessageChannel message elsewhere. */
  nextTurn(fn: () => void): void {
    macrotask(fn);
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
        this.since = this.clock.now();
        macrotask(this.turned);
      } else if ((n & 15) === 0 && this.clock.now() - this.since > this.turnBudgetMs) {
        this.full = true;
        this.yields++;
        this.waiting.push(fn);
        return;
      }
    }
    this.microtasks.enqueue(fn);
  }

  at(timeMs: number, fn: () => void): Cancel {
    checkTime('timeMs', timeMs);
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fire = (): void => {
      timer = undefined;
      if (!live) return;
      const early = timeMs - this.clock.now();
      if (early > 0) {
        timer = setTimeout(fire, Math.min(Math.ceil(early), MAX_TIMER_MS));
        return;
      }
      live = false;
      fn();
    };
    const delay = timeMs - this.clock.now();
    // already due: soon, under the turn budget, never synchronously
    if (delay <= 0) this.schedule(fire);
    else timer = setTimeout(fire, Math.min(Math.ceil(delay), MAX_TIMER_MS));
    return () => {
      if (!live) return;
      live = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
  }

  after(delayMs: number, fn: () => void): Cancel {
    checkTime('delayMs', delayMs);
    return this.at(this.clock.now() + delayMs, fn);
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
