import { RingError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import {
  SHM_SIGNAL_MAGIC,
  SHM_SIGNAL_OFF_MAGIC,
  SHM_SIGNAL_OFF_VERSION,
  SHM_SIGNAL_SIDE_DIRTY,
  SHM_SIGNAL_SIDE_ENABLED,
  SHM_SIGNAL_SIDE_PENDING,
  SHM_SIGNAL_SIZE,
  SHM_SIGNAL_VERSION,
  Side,
  signalCell,
} from './layout.js';

/** Marks ShmSignal endpoints across copies of this package (Symbol.for is shared by every copy and realm). */
const SIGNAL_BRAND = Symbol.for('vbus-ts.shm-signal');

/** Wakes the other side: the connector decides how (direct call, microtask, doorbell, scheduler). */
export type Wake = () => void;

/** Counters of one endpoint of a signal. Plain numbers, updated on the hot path. */
export interface SignalCounters {
  /** Signals this endpoint sent across the boundary (the expensive event). */
  injected: number;
  /** Injects that did not cross: the other side had the signal masked or one was already pending. */
  suppressed: number;
  /**
   * Times this endpoint's handler ran. A wakeup runs it while the signal is enabled and dirty:
   * once more each time the other side signalled during a run (a busy peer is served without
   * another wake), not at all if the endpoint was masked.
   */
  handlerRuns: number;
  /** Times this endpoint's wakeup ran: signals that crossed to it, its re-checks on enable(), its own re-dispatches after the 64-run bound. */
  wakeups: number;
}

/** Upper bound on handler runs in one wakeup, so a peer that keeps the signal dirty cannot livelock us. */
const MAX_RUNS_PER_WAKEUP = 64;

/**
 * One endpoint of an shm-signal: the half held by `local`. It sends toward the other side with
 * {@link inject} and receives with {@link enable}, {@link disable} and {@link wakeup}.
 *
 * Semantics (docs/architecture.md section 3.1): inject sets the receiver's dirty flag (unless it is
 * still set: then a handler run is already due), and only if the receiver
 * is enabled and has nothing pending does it set pending and wake it. A wakeup runs the handler
 * while the signal stays enabled and dirty, then clears pending. Enable re-checks dirty and
 * pending, so a signal raised while masked is never lost.
 */
export class ShmSignal {
  /**
   * True for a ShmSignal of any copy of @vbus/core (a plugin may bring its own copy): a brand, not
   * `instanceof`, so an endpoint made by one copy is never mistaken for a {@link Wake} by another.
   */
  static is(value: unknown): value is ShmSignal {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SIGNAL_BRAND] === true;
  }
  readonly counters: SignalCounters = { injected: 0, suppressed: 0, handlerRuns: 0, wakeups: 0 };
  /** Called on each handler run of a wakeup. Set by the owner of the receiving half. */
  handler: () => void = () => {};
  private readonly cells: Int32Array;
  private readonly remote: Side;
  // Int32 cell indices, computed once
  private readonly rEnabled: number;
  private readonly rPending: number;
  private readonly rDirty: number;
  private readonly lEnabled: number;
  private readonly lPending: number;
  private readonly lDirty: number;
  /** Set while a wakeup() runs, so re-entrant wakeups (enable inside the handler) do not nest. */
  private inWakeup = false;
  /** How to wake the remote side. */
  wake: Wake;

  /**
   * @param cells the descriptor's 8 Int32 cells (see {@link ShmSignal.cellsAt})
   * @param local which side this endpoint is
   * @param wake how to wake the other side when a signal crosses
   * @param name for errors and introspection
   */
  constructor(
    cells: Int32Array,
    readonly local: Side,
    wake: Wake,
    readonly name = 'signal',
  ) {
    if (cells.length < SHM_SIGNAL_SIZE / 4) throw new RingError(name, -1, cells.length, `shm-signal needs ${SHM_SIGNAL_SIZE / 4} cells`);
    const magic = Atomics.load(cells, SHM_SIGNAL_OFF_MAGIC >> 2) >>> 0;
    if (magic !== SHM_SIGNAL_MAGIC) throw new RingError(name, -1, magic, `shm-signal magic must be 0x${SHM_SIGNAL_MAGIC.toString(16)}`);
    const version = Atomics.load(cells, SHM_SIGNAL_OFF_VERSION >> 2);
    if (version !== SHM_SIGNAL_VERSION) throw new RingError(name, -1, version, `shm-signal version must be ${SHM_SIGNAL_VERSION}`);
    this.cells = cells;
    this.wake = wake;
    this.remote = local === Side.North ? Side.South : Side.North;
    this.rEnabled = signalCell(this.remote, SHM_SIGNAL_SIDE_ENABLED);
    this.rPending = signalCell(this.remote, SHM_SIGNAL_SIDE_PENDING);
    this.rDirty = signalCell(this.remote, SHM_SIGNAL_SIDE_DIRTY);
    this.lEnabled = signalCell(local, SHM_SIGNAL_SIDE_ENABLED);
    this.lPending = signalCell(local, SHM_SIGNAL_SIDE_PENDING);
    this.lDirty = signalCell(local, SHM_SIGNAL_SIDE_DIRTY);
  }

  /** The Int32 cells of a descriptor at `address` in guest memory. */
  static cellsAt(memory: GuestMemory, address: number): Int32Array {
    return memory.int32(address, SHM_SIGNAL_SIZE / 4);
  }

  /** Write a fresh descriptor: magic, version, both sides enabled, nothing pending or dirty. */
  static format(cells: Int32Array): void {
    for (let i = 0; i < SHM_SIGNAL_SIZE / 4; i++) Atomics.store(cells, i, 0);
    Atomics.store(cells, signalCell(Side.North, SHM_SIGNAL_SIDE_ENABLED), 1);
    Atomics.store(cells, signalCell(Side.South, SHM_SIGNAL_SIDE_ENABLED), 1);
    Atomics.store(cells, SHM_SIGNAL_OFF_VERSION >> 2, SHM_SIGNAL_VERSION);
    // magic last: a reader that sees the magic sees an initialised descriptor
    Atomics.store(cells, SHM_SIGNAL_OFF_MAGIC >> 2, SHM_SIGNAL_MAGIC | 0);
  }

  /**
   * Signal the other side. Returns true if the signal crossed the boundary (a wake was sent),
   * false if it was suppressed because the receiver masked it or already had one pending.
   */
  inject(): boolean {
    const c = this.cells;
    // dirty already set: the receiver has not yet cleared it, so a run of its handler that
    // clears it is still to come and sees everything published before this load; leaving
    // the flag alone spares a locked store and keeps the line shared while the receiver polls
    if (Atomics.load(c, this.rDirty) !== 0) {
      this.counters.suppressed++;
      return false;
    }
    Atomics.store(c, this.rDirty, 1);
    if (Atomics.load(c, this.rEnabled) !== 0 && Atomics.compareExchange(c, this.rPending, 0, 1) === 0) {
      this.counters.injected++;
      this.wake();
      return true;
    }
    this.counters.suppressed++;
    return false;
  }

  /** Mask signals toward this endpoint (the sender will only mark them dirty). */
  disable(): void {
    Atomics.store(this.cells, this.lEnabled, 0);
  }

  /**
   * Unmask signals toward this endpoint. If any arrived while masked, run the wakeup now, so
   * nothing is stranded between the last poll and the unmask.
   */
  enable(): void {
    const c = this.cells;
    Atomics.store(c, this.lEnabled, 1);
    if (!this.inWakeup && (Atomics.load(c, this.lDirty) !== 0 || Atomics.load(c, this.lPending) !== 0)) this.wakeup();
  }

  /** True while this endpoint accepts signals. */
  get enabled(): boolean {
    return Atomics.load(this.cells, this.lEnabled) !== 0;
  }

  /**
   * True if the other side's dirty flag is still set: a run of its handler is already due, and
   * {@link inject} would be suppressed without writing anything.
   */
  get peerDirty(): boolean {
    return Atomics.load(this.cells, this.rDirty) !== 0;
  }

  /** True if a signal arrived since the handler last ran (whether or not it woke us). */
  get dirty(): boolean {
    return Atomics.load(this.cells, this.lDirty) !== 0;
  }

  /**
   * Run by the receiving side when woken. Runs the handler while enabled and dirty, then clears
   * pending; loops again if a signal slipped in meanwhile. Bounded: after 64 runs it leaves the
   * signal pending and wakes itself through the connector instead of looping on.
   */
  wakeup(): void {
    if (this.inWakeup) return;
    this.inWakeup = true;
    this.counters.wakeups++;
    const c = this.cells;
    let runs = 0;
    try {
      while (Atomics.load(c, this.lEnabled) !== 0 && (Atomics.load(c, this.lDirty) !== 0 || Atomics.load(c, this.lPending) !== 0)) {
        do {
          if (runs++ >= MAX_RUNS_PER_WAKEUP) {
            // pending stays set, so the peer's injects are suppressed: someone must run us again
            if (this.selfWake) this.selfWake();
            else setTimeout(() => this.wakeup(), 0);
            return;
          }
          Atomics.store(c, this.lDirty, 0);
          this.counters.handlerRuns++;
          this.handler();
        } while (Atomics.load(c, this.lEnabled) !== 0 && Atomics.load(c, this.lDirty) !== 0);
        Atomics.store(c, this.lPending, 0);
      }
    } catch (error) {
      // the handler threw: drop pending, or every later inject would be suppressed for good
      Atomics.store(c, this.lPending, 0);
      throw error;
    } finally {
      this.inWakeup = false;
    }
  }

  /**
   * How to re-schedule this endpoint's own wakeup when a wakeup hit its bound. Set by the
   * connector; when unset, the wakeup is re-run from a timer (a macrotask, so the event loop moves on).
   */
  selfWake: Wake | undefined;
}

Object.defineProperty(ShmSignal.prototype, SIGNAL_BRAND, { value: true });
