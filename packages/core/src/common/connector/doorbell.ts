import type { SignalLink, SignalRouter } from '../bus/signal-router.js';
import { ConfigError } from '../errors.js';
import { nextMacrotask } from '../time/macrotask.js';

/**
 * One doorbell per connection, carrying every signal of every queue on it (vbus's bridge event
 * ring did the same): a word of pending slot bits and a sequence word to wait on, per direction,
 * and per direction a word that says whether its receiver is asleep on the sequence.
 *
 *   cell 0  bits toward the host     cell 1  sequence toward the host     cell 4  host asleep
 *   cell 2  bits toward the guest    cell 3  sequence toward the guest    cell 5  guest asleep
 *
 * Slot bit 31 means "a control message is waiting on the port" (for a guest blocked in Atomics.wait).
 *
 * The asleep words spare the ringer an `Atomics.notify` (50 ns or so even with nobody waiting)
 * when the receiver is awake: it sets its word before it waits and clears it after, the ringer
 * bumps the sequence and then reads the word, both sequentially consistent. A ringer that reads
 * 0 read it before the receiver set it, so its bump came before the receiver's wait compared
 * the sequence, and that wait returns at once: no wakeup is lost.
 */
export const DOORBELL_CELLS = 6;
export const DOORBELL_TO_HOST = 0;
export const DOORBELL_TO_GUEST = 2;
export const DOORBELL_CONTROL_BIT = 31;

/** The cell that says whether the receiver of `direction` is asleep on its sequence. */
export function doorbellAsleepCell(direction: number): number {
  return 4 + (direction >> 1);
}

/** Allocate a doorbell's shared cells. */
export function newDoorbell(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(DOORBELL_CELLS * 4));
}

/**
 * A side-wide wake word (a guest that blocks on all its connections at once): cell 0 its
 * sequence, cell 1 whether its owner is asleep on it (the same rule as a doorbell's).
 */
export const WAKE_WORD_CELLS = 2;
/** A wake word's sequence cell, and the cell its owner sets while asleep on it. */
export const WAKE_SEQ = 0;
export const WAKE_ASLEEP = 1;

/** Allocate a wake word. */
export function newWakeWord(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(WAKE_WORD_CELLS * 4));
}

/**
 * Sleep on `cells[seqCell]` while it holds `seen`, at most `timeoutMs`, with `cells[asleepCell]`
 * set for the duration (so a ringer knows to notify). Returns Atomics.wait's result.
 */
export function sleepOn(cells: Int32Array, seqCell: number, asleepCell: number, seen: number, timeoutMs = Infinity): 'ok' | 'not-equal' | 'timed-out' {
  Atomics.store(cells, asleepCell, 1);
  try {
    return Atomics.wait(cells, seqCell, seen, timeoutMs);
  } finally {
    Atomics.store(cells, asleepCell, 0);
  }
}

/** Rings one direction of a doorbell: set the slot's bit, bump the sequence, wake a sleeping receiver. */
export class DoorbellLink implements SignalLink {
  /** Rings sent (each one a bump of the sequence; an Atomics.notify too when the receiver slept). */
  rings = 0;
  private readonly asleepCell: number;
  constructor(
    private readonly cells: Int32Array,
    private readonly direction: number,
    /** Optional side-wide wake word ({@link newWakeWord}), for a receiver that blocks on all its connections at once. */
    private readonly anyCell?: Int32Array,
  ) {
    this.asleepCell = doorbellAsleepCell(direction);
  }
  ring(slot: number): void {
    this.rings++;
    Atomics.or(this.cells, this.direction, 1 << slot);
    Atomics.add(this.cells, this.direction + 1, 1);
    if (Atomics.load(this.cells, this.asleepCell) !== 0) Atomics.notify(this.cells, this.direction + 1, 1);
    const any = this.anyCell;
    if (any) {
      Atomics.add(any, WAKE_SEQ, 1);
      if (Atomics.load(any, WAKE_ASLEEP) !== 0) Atomics.notify(any, WAKE_SEQ, 1);
    }
  }
}

/**
 * Takes and dispatches whatever is pending on one direction of a doorbell. Returns the control
 * bit's state so the caller can drain its message port.
 */
export function drainDoorbell(cells: Int32Array, direction: number, router: SignalRouter): boolean {
  const bits = Atomics.exchange(cells, direction, 0);
  if (bits === 0) return false;
  const control = (bits & (1 << DOORBELL_CONTROL_BIT)) !== 0;
  router.dispatchBits(bits & ~(1 << DOORBELL_CONTROL_BIT));
  return control;
}

/** Longest spin a poll budget may ask for: a second (a spinning thread holds its core that long). */
const MAX_POLL_BUDGET_US = 1_000_000;

/**
 * The `pollBudgetUs` option of a connector or guest (adaptive polling before a sleep), checked:
 * default 0 (always sleep); a ConfigError naming the option for anything but microseconds in
 * [0, 1000000]. @internal
 */
export function checkPollBudgetUs(value: number | undefined): number {
  const us = value ?? 0;
  if (!Number.isFinite(us) || us < 0 || us > MAX_POLL_BUDGET_US) throw new ConfigError('pollBudgetUs', us, `must be a number of microseconds in [0, ${MAX_POLL_BUDGET_US}]`);
  return us;
}

/**
 * Adaptive polling: spin on a sequence word for at most `budgetUs` microseconds waiting for it
 * to leave `seen`. Returns true if it moved (the caller then skips the sleep). A bounded busy
 * wait trades one core for the microseconds an Atomics wake costs (docs/architecture.md section 6: about
 * 0.6 µs spinning against 20 to 30 µs sleeping).
 */
export function spinWhile(cells: Int32Array, seqCell: number, seen: number, budgetUs: number): boolean {
  if (budgetUs <= 0) return false;
  const end = performance.now() + budgetUs / 1000;
  for (let i = 0; ; i++) {
    if (Atomics.load(cells, seqCell) !== seen) return true;
    // read the clock every 64 polls: performance.now() costs more than a poll
    if ((i & 63) === 63 && performance.now() >= end) return false;
  }
}

/**
 * Most drains in a row without sleeping before the server yields to the event loop: a peer that
 * rings faster than the server drains (or bumps the sequence word on purpose) would otherwise
 * keep `Atomics.waitAsync` returning "not-equal" synchronously, and the loop would never end.
 */
export const MAX_DRAINS_WITHOUT_SLEEP = 64;
/** Longest the server stays awake (draining and spinning) before it yields, in ms. */
export const MAX_AWAKE_MS = 2;

/**
 * Serve one direction of a doorbell on the event loop with Atomics.waitAsync until `stopped()`.
 * The sequence is read before the bits are taken, so a ring that lands after the take changes
 * the sequence and the wait returns at once: no lost wakeup. With `pollBudgetUs` > 0 it first
 * spins that long for the next ring (adaptive polling; off by default), then sleeps. After
 * {@link MAX_DRAINS_WITHOUT_SLEEP} drains or {@link MAX_AWAKE_MS} without sleeping it yields one
 * macrotask, so the synchronous work one peer can cause per event-loop turn is bounded (by
 * that, plus one drain and one spin of `pollBudgetUs`). Never rejects: anything
 * thrown while serving goes to `onError` and the server stops.
 */
export async function serveDoorbell(
  cells: Int32Array,
  direction: number,
  router: SignalRouter,
  stopped: () => boolean,
  onControl?: () => void,
  pollBudgetUs = 0,
  onError?: (error: unknown) => void,
): Promise<void> {
  const seqCell = direction + 1;
  const asleep = doorbellAsleepCell(direction);
  let awake = 0;
  let since = 0;
  try {
    while (!stopped()) {
      const seen = Atomics.load(cells, seqCell);
      if (drainDoorbell(cells, direction, router)) onControl?.();
      if (stopped()) return;
      if (awake++ === 0) since = performance.now();
      else if (awake >= MAX_DRAINS_WITHOUT_SLEEP || performance.now() - since > MAX_AWAKE_MS) {
        awake = 0;
        await nextMacrotask();
        continue;
      }
      if (spinWhile(cells, seqCell, seen, pollBudgetUs)) continue;
      Atomics.store(cells, asleep, 1);
      const r = Atomics.waitAsync(cells, seqCell, seen);
      if (r.async) {
        awake = 0;
        try {
          await r.value;
        } finally {
          Atomics.store(cells, asleep, 0);
        }
      } else Atomics.store(cells, asleep, 0);
    }
  } catch (error) {
    try {
      onError?.(error);
    } catch {
      /* nowhere left to report: the server has stopped either way */
    }
  }
}
