import type { GuestNic } from './guest-nic.js';

/** Options of a {@link TxRoomWaiter}. */
export interface TxRoomWaiterOptions {
  /** Refusals in a row answered by a yield to the event loop before the sender sleeps. Default 16. */
  pollTurns?: number;
  /**
   * Looks at the ring (`txPending`) before each yield: room the device frees within them costs
   * no event-loop turn (a turn costs a worker a few µs, the time the device needs for dozens of
   * frames, so a sender that always yielded refilled the ring a few dozen frames at a time, as
   * the hand-written ring's producer, which spins 200 polls, does not). Default 512 (about 10 to
   * 25 µs); 0: yield at once.
   */
  spinPolls?: number;
  /** Longest sleep waiting for {@link GuestNic.onTxWake} (a wake that is not coming: link down, say). Default 20 ms. */
  maxWaitMs?: number;
}

/**
 * How a sender whose frame was refused for a full tx ring waits for room: Linux's
 * netif_stop_queue / netif_wake_queue, with a short poll first: a bounded spin on the ring
 * (`spinPolls`), then turns of the event loop. The first `pollTurns` refusals in
 * a row only yield to the event loop: the tx-complete interrupt usually frees buffers within a
 * turn or two, and a sender asleep until the wake leaves the ring idle while it wakes (on a quiet
 * machine that halved a worker guest's stream). Past that the sender sleeps until the NIC's
 * `onTxWake` (bounded by `maxWaitMs`), so guests that cannot make progress stop taking the CPU
 * the host thread needs to drain them (8 polling guests on 2 cores starved it).
 */
export class TxRoomWaiter {
  private refusals = 0;
  private readonly pollTurns: number;
  private readonly spinPolls: number;
  private readonly maxWaitMs: number;

  constructor(
    private readonly nic: Pick<GuestNic, 'onTxWake' | 'txPending'>,
    options: TxRoomWaiterOptions = {},
  ) {
    this.pollTurns = options.pollTurns ?? 16;
    this.spinPolls = options.spinPolls ?? 512;
    this.maxWaitMs = options.maxWaitMs ?? 20;
  }

  /** A send went through: the next refusal starts polling again. */
  sent(): void {
    this.refusals = 0;
  }

  /** A send was refused for a full ring: resolves when it is worth trying again. */
  wait(): Promise<void> {
    if (this.spinPolls > 0) {
      const pending = this.nic.txPending();
      for (let i = 0; i < this.spinPolls; i++) if (this.nic.txPending() < pending) return RESOLVED;
    }
    if (++this.refusals <= this.pollTurns) return new Promise<void>((resolve) => yieldTurn(resolve));
    return new Promise<void>((resolve) => {
      const nic = this.nic;
      const timer = setTimeout(done, this.maxWaitMs);
      function done(): void {
        clearTimeout(timer);
        nic.onTxWake = ignoreWake;
        resolve();
      }
      nic.onTxWake = done;
    });
  }
}

const ignoreWake = (): void => {};
const RESOLVED: Promise<void> = Promise.resolve();
// a turn of the event loop (the tx interrupt's doorbell is served there); a browser has no setImmediate
const yieldTurn: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);
