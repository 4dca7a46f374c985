import type { Clock } from './clock.js';

/**
 * Cancels a timed task made by {@link Scheduler.at} or {@link Scheduler.after}. Idempotent: a
 * second call, or a call after the task ran, does nothing. A plain function, so a caller keeps
 * one value and needs no handle type of the scheduler's.
 */
export type Cancel = () => void;

/**
 * Where and when deferred work runs: wakes delivered inside one thread, devices' bottom halves
 * and timers. The bus never decides *when*; the embedder does, through this interface: in real
 * time ({@link MicrotaskScheduler}, the default) or in its own virtual time
 * ({@link VirtualTimeScheduler}, or a scheduler of its simulator that implements this).
 *
 * A scheduler is also a {@link Clock}: `now()` is the time its `at`/`after` count in.
 * `createVbus` binds the Clock to the embedder's scheduler when it is given one and no Clock,
 * so time read and time scheduled agree.
 */
export interface Scheduler extends Clock {
  /** Run `fn` soon, after the current task. Must never run it synchronously inside this call. */
  schedule(fn: () => void): void;
  /**
   * Run `fn` at time `timeMs` of this scheduler's clock ({@link now}), never before it and never
   * synchronously inside this call; a time already past means "soon". Tasks due at the same time
   * run in the order they were made.
   */
  at(timeMs: number, fn: () => void): Cancel;
  /** Run `fn` `delayMs` milliseconds from now: `at(now() + delayMs, fn)`. */
  after(delayMs: number, fn: () => void): Cancel;
  /**
   * Optional: run `fn` after the embedder's loop turned once (timers, I/O and other threads' work
   * had their chance), the unit a device polls in before it unmasks a signal. Without it,
   * {@link schedule} stands in. {@link MicrotaskScheduler}: one macrotask (`setImmediate`);
   * {@link VirtualTimeScheduler}: `schedule`.
   */
  nextTurn?(fn: () => void): void;
}

/** Inversify token for the {@link Scheduler}. */
export const Scheduler = Symbol.for('vbus-ts.Scheduler');

/** A {@link Cancel} that does nothing (a task that was never armed). */
export const noCancel: Cancel = () => {};
