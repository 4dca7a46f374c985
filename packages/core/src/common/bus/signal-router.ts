import { BusError } from '../errors.js';
import type { ShmSignal } from '../signal/shm-signal.js';

/** Most signals one connection can carry: one doorbell word of bits, the top bit kept for control. */
export const MAX_SIGNALS_PER_CONNECTION = 31;

/** How one side wakes the other side's signal endpoint number `slot`. Made by a connector. */
export interface SignalLink {
  /** Wake the other side's signal endpoint number `slot` (one doorbell carries every queue of a connection). */
  ring(slot: number): void;
}

/**
 * One side's table of signal endpoints on a connection. A connector calls {@link dispatch} when
 * the other side rang a slot; the endpoint's wakeup runs here, and an exception from a handler is
 * caught and reported instead of escaping into the event loop; dispatch never throws.
 */
export class SignalRouter {
  private readonly endpoints: Array<ShmSignal | undefined> = [];
  /** Deliveries per slot: the other side's signals that reached this side (introspection's `kicks` on the host). */
  private readonly delivered: number[] = [];
  /**
   * @param onError told when an endpoint's handler throws
   * @param defer how this side runs work later; an endpoint that hit its per-wakeup bound
   *   re-dispatches itself through it (so a simulated guest stays in virtual time)
   */
  constructor(
    private readonly onError: (error: unknown, slot: number) => void,
    private readonly defer?: (fn: () => void) => void,
  ) {}

  /** Register an endpoint; returns its slot. */
  add(signal: ShmSignal): number {
    const slot = this.endpoints.length;
    if (slot >= MAX_SIGNALS_PER_CONNECTION)
      throw new BusError(`signal ${signal.name}: a connection carries at most ${MAX_SIGNALS_PER_CONNECTION} signals (one doorbell word of slot bits)`);
    this.set(slot, signal);
    return slot;
  }

  /** Register an endpoint at a slot chosen by the other side. */
  set(slot: number, signal: ShmSignal): void {
    this.endpoints[slot] = signal;
    this.delivered[slot] = 0;
    const defer = this.defer;
    // a re-dispatch of our own (the wakeup bound was hit) is not a delivery from the other side
    if (defer) signal.selfWake = () => defer(() => this.run(slot));
  }

  /** True when no further endpoint fits (add() would throw). */
  get full(): boolean {
    return this.endpoints.length >= MAX_SIGNALS_PER_CONNECTION;
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** Run the wakeup of endpoint `slot`. Unknown slots are ignored (a stale ring after close). */
  dispatch(slot: number): void {
    if (this.endpoints[slot] === undefined) return;
    this.delivered[slot]!++;
    this.run(slot);
  }

  private run(slot: number): void {
    const ep = this.endpoints[slot];
    if (ep === undefined) return;
    try {
      ep.wakeup();
    } catch (error) {
      try {
        this.onError(error, slot);
      } catch {
        /* the report itself failed (onError must not throw): dispatch still returns normally */
      }
    }
  }

  /** Dispatch every slot whose bit is set in `bits`. */
  dispatchBits(bits: number): void {
    while (bits !== 0) {
      const slot = 31 - Math.clz32(bits & -bits);
      bits &= bits - 1;
      this.dispatch(slot);
    }
  }

  /** Signals from the other side delivered to endpoint `slot` so far (0 for an unknown slot). */
  deliveries(slot: number): number {
    return this.delivered[slot] ?? 0;
  }

  /** Forget every endpoint (the connection closed). */
  clear(): void {
    this.endpoints.length = 0;
  }
}
