import { BusError } from '../errors.js';
import { nextMacrotask } from './macrotask.js';

/**
 * A scheduler the embedder steps: {@link VirtualTimeScheduler}, or a simulator's own scheduler
 * with the same methods.
 */
export interface SteppableScheduler {
  /** Run the earliest waiting task; false when none was waiting. */
  step(): boolean;
  /** The scheduler's current time, ms. */
  now(): number;
  /**
   * Time (ms) of the earliest waiting task, undefined when none waits. Optional: without it,
   * {@link runUntilSettled} lets promise continuations run after every step, which is slower.
   */
  next?(): number | undefined;
}

/** Options of {@link runUntilSettled}. */
export interface RunUntilSettledOptions {
  /** Most scheduler tasks to run before giving up with an error (default 10 000 000). */
  maxSteps?: number;
  /**
   * Most event-loop turns to wait while the scheduler has nothing to run and the promise is still
   * pending (it waits on something outside the scheduler: a worker, a socket) before giving up
   * with an error (default 1000).
   */
  maxIdleTurns?: number;
}

/**
 * Drive `scheduler` until `promise` settles, and return its value (or throw its error): how an
 * embedder brings a device up (open, call, shm: the control verbs are promises) inside its own
 * virtual time, with no real-time wait. Before each step that moves the clock forward, the
 * continuations of promises that settled at the current time run (one macrotask), so a driver
 * that awaits a verb and then acts does so at the virtual time the verb completed, and the run is
 * the same every time. Tasks at the same time run back to back.
 *
 * Throws a BusError if the promise is still pending after `maxSteps` tasks, or after
 * `maxIdleTurns` event-loop turns in which the scheduler had nothing to run.
 */
export async function runUntilSettled<T>(scheduler: SteppableScheduler, promise: Promise<T>, options: RunUntilSettledOptions = {}): Promise<T> {
  const maxSteps = options.maxSteps ?? 10_000_000;
  const maxIdleTurns = options.maxIdleTurns ?? 1000;
  let settled = false;
  let failed = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      settled = true;
      value = v;
    },
    (e: unknown) => {
      settled = true;
      failed = true;
      error = e;
    },
  );
  let steps = 0;
  let idleTurns = 0;
  // the promise may settle from microtasks alone (an in-process verb): give them a turn first
  await nextMacrotask();
  while (!settled) {
    const next = scheduler.next ? scheduler.next() : scheduler.now();
    if (next === undefined) {
      if (++idleTurns > maxIdleTurns)
        throw new BusError(
          `runUntilSettled: the scheduler has had nothing to run for ${maxIdleTurns} event-loop turns and the promise is still pending (it waits on something outside the scheduler, or on nothing)`,
        );
      await nextMacrotask();
      continue;
    }
    if (steps >= maxSteps) throw new BusError(`runUntilSettled: the promise is still pending after ${maxSteps} scheduler tasks (virtual time ${scheduler.now()} ms)`);
    if (!scheduler.step()) {
      // no next(): we learn that it is idle only now
      if (++idleTurns > maxIdleTurns)
        throw new BusError(
          `runUntilSettled: the scheduler has had nothing to run for ${maxIdleTurns} event-loop turns and the promise is still pending (it waits on something outside the scheduler, or on nothing)`,
        );
      await nextMacrotask();
      continue;
    }
    steps++;
    idleTurns = 0;
    // let what that task settled run before the clock moves on (one turn drains every microtask);
    // tasks still due at this same time run first, without waiting
    const after = scheduler.next ? scheduler.next() : undefined;
    if (after === undefined || after > scheduler.now()) await nextMacrotask();
  }
  if (failed) throw error;
  return value as T;
}
