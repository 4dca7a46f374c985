import { ConfigError } from '../errors.js';
import type { DeviceContext } from '../bus/device.js';

/** Most turns a device may be configured to poll before it unmasks: beyond this, polling costs more than any wakeup it saves. */
export const MAX_POLL_TURNS = 1024;

/** Turns a device polls before it unmasks when its config does not say (venet's and virtio-net's `pollTurns`). */
export const DEFAULT_POLL_TURNS = 16;

/**
 * A `pollTurns` option, checked: an integer in [0, {@link MAX_POLL_TURNS}], `fallback`
 * ({@link DEFAULT_POLL_TURNS} unless given) when absent; a ConfigError naming the option (`name`,
 * default `pollTurns`) otherwise.
 */
export function checkPollTurns(value: unknown, fallback = DEFAULT_POLL_TURNS, name = 'pollTurns'): number {
  const n = value ?? fallback;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_POLL_TURNS) throw new ConfigError(name, n, `must be an integer in [0, ${MAX_POLL_TURNS}]`);
  return n;
}

/** What a {@link TurnPoller} drives: the device's queue, masked while it polls. */
export interface PolledQueue {
  /** True if the guest has queued work (a peek: nothing is consumed). */
  hasWork(): boolean;
  /** Drain what is queued, signal still masked. False: stop polling (the device failed, or a deferred pass of its own took over and will call {@link TurnPoller.idle} itself). */
  drain(): boolean;
  /** Unmask the signal (its re-check catches work that arrived since the last look). */
  unmask(): void;
}

/**
 * Polling across turns of the loop before unmasking, the device half of notification prevention
 * made patient (Linux's NAPI repoll, vhost's busy loop): when a drain leaves the queue empty the
 * device keeps its signal masked and looks again on each of the next `turns` turns of the bus's
 * loop ({@link DeviceContext.nextTurn}); work found is drained and the count starts over; after
 * `turns` empty turns the signal is unmasked. A guest that streams keeps finding the device
 * polling and does not kick it: a kick that wakes a thread sleeping in `Atomics.waitAsync` cost
 * the kicking guest 6 to 30 µs on this project's test machines (docs/benchmarks.md), the price of
 * hundreds of frames. Each turn yields, so a polling device never holds the loop; with 0 turns it
 * unmasks at once (the classic behaviour). No timer is involved.
 */
export class TurnPoller {
  private polling = false;
  private empty = 0;

  constructor(
    private readonly ctx: Pick<DeviceContext, 'nextTurn'>,
    readonly turns: number,
    private readonly queue: PolledQueue,
  ) {}

  /** True while the poller holds the signal masked across turns. */
  get active(): boolean {
    return this.polling;
  }

  /**
   * The queue went empty (where a device would unmask): poll for `turns` turns first, or unmask
   * now if `turns` is 0. A call while already polling restarts the count.
   */
  idle(): void {
    this.empty = 0;
    if (this.turns === 0) {
      this.queue.unmask();
      return;
    }
    if (this.polling) return;
    this.polling = true;
    this.ctx.nextTurn(this.turn);
  }

  /** Forget the polling (the device reset or closed): the next turn does nothing. */
  cancel(): void {
    this.polling = false;
  }

  private readonly turn = (): void => {
    if (!this.polling) return;
    const q = this.queue;
    if (q.hasWork()) {
      this.empty = 0;
      this.polling = false;
      // drain() false: failed, or a deferred pass took over (it calls idle() when it ends)
      if (!q.drain()) return;
      this.polling = true;
    } else if (++this.empty >= this.turns) {
      this.polling = false;
      q.unmask();
      return;
    }
    this.ctx.nextTurn(this.turn);
  };
}
