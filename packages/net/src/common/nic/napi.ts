/**
 * The receive loop both guest NIC drivers share (Linux's NAPI): the first rx interrupt masks
 * further ones, polls up to a weight of frames per turn, yields between turns, and unmasks with
 * a re-check, so a burst costs one interrupt. Frames the handler sends while a poll runs (the
 * replies) join the poll's batch: one kick when the poll ends instead of one per reply.
 */

/** What the loop needs of a driver's rx queue. */
export interface NapiQueue {
  /** Mask rx interrupts. */
  mask(): void;
  /**
   * Unmask them. Returns true when frames arrived meanwhile that no interrupt will announce (the
   * loop polls again); an unmask that re-runs the interrupt handler itself returns false.
   */
  unmask(): boolean;
  /** One poll: hand at most `budget` received frames to the driver's handler; returns how many. */
  receive(budget: number): number;
  /** After each turn: give buffers back to the device (and notify it if it asked). */
  refill(): void;
  /** Run `fn` on a later turn of the event loop (the connection's defer). */
  defer(fn: () => void): void;
  /** Whether the connection is gone (no more polls). */
  readonly closed: boolean;
}

/** Sends made while any poll of one driver runs, kicked once when the poll ends. */
export class PollBatch {
  private depth = 0;
  private wanted = false;
  /** @param kick notifies the device of everything sent during the poll. */
  constructor(private readonly kick: () => void) {}

  /** Inside a poll: note that a kick is owed and return true (the caller does not kick now). */
  deferKick(): boolean {
    if (this.depth === 0) return false;
    this.wanted = true;
    return true;
  }

  /** @internal */
  enter(): void {
    this.depth++;
  }

  /** @internal */
  leave(): void {
    if (--this.depth === 0 && this.wanted) {
      this.wanted = false;
      this.kick();
    }
  }
}

/**
 * One rx queue's NAPI loop. It starts held: until {@link release} (the driver's receive handler
 * is attached), an interrupt only masks and frames stay in the ring, so no frame is consumed
 * with nobody to take it (a full ring makes the device count drops, as for a slow receiver).
 *
 * With `pollTurns` N > 0 a poll that drained the ring does not unmask at once: the loop polls
 * again on each of the next turns, interrupts still masked, and unmasks after N polls in a row
 * found nothing (Linux's NAPI repoll / busy poll; the device side's `TurnPoller`). A device that
 * keeps delivering then sends no interrupt: each one wakes a worker guest's event loop and
 * costs the device's thread microseconds.
 */
export class NapiPoll {
  private scheduled = false;
  private held = true;
  /** An interrupt came while held: poll on release. */
  private parked = false;
  /** Polls in a row that found nothing, while polling turns with interrupts masked. */
  private emptyPolls = 0;
  private readonly turn = (): void => this.poll();

  /**
   * @param first `inline`: the first poll runs inside the interrupt (lowest latency: venet);
   *   `deferred`: it runs on the next turn (virtio-net, as Linux's softirq).
   * @param pollTurns empty polls, one per turn, before it unmasks (default 0: unmask when drained)
   */
  constructor(
    private readonly queue: NapiQueue,
    private readonly weight: number,
    private readonly batch: PollBatch,
    private readonly first: 'inline' | 'deferred',
    private readonly pollTurns = 0,
  ) {}

  /** The rx interrupt: mask, and poll unless a poll is already under way (or the loop is held). */
  interrupt(): void {
    this.queue.mask();
    if (this.held) {
      this.parked = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.first === 'inline') this.poll();
    else this.queue.defer(this.turn);
  }

  /** A receiver is attached: start polling, at once if an interrupt came while held. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (!this.parked || this.scheduled) return;
    this.parked = false;
    this.scheduled = true;
    this.queue.defer(this.turn);
  }

  private poll(): void {
    const q = this.queue;
    if (q.closed) {
      this.scheduled = false;
      return;
    }
    let done: number;
    this.batch.enter();
    try {
      done = q.receive(this.weight);
    } finally {
      this.batch.leave();
    }
    q.refill();
    if (done === this.weight && !q.closed) {
      this.emptyPolls = 0;
      q.defer(this.turn);
      return;
    }
    if (this.pollTurns > 0 && !q.closed) {
      // drained: keep polling, masked, until pollTurns polls in a row find nothing
      this.emptyPolls = done > 0 ? 0 : this.emptyPolls + 1;
      if (this.emptyPolls < this.pollTurns) {
        q.defer(this.turn);
        return;
      }
    }
    this.emptyPolls = 0;
    this.scheduled = false;
    if (q.unmask()) {
      q.mask();
      this.scheduled = true;
      q.defer(this.turn);
    }
  }
}
