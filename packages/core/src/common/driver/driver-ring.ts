import { ConfigError } from '../errors.js';
import type { GuestConnection } from '../connector/guest-connection.js';
import type { GuestAllocator } from '../memory/allocator.js';
import type { ShmSignal, SignalCounters } from '../signal/shm-signal.js';
import { Ioq } from '../ioq/ioq.js';
import { IOQ_MAX_COUNT } from '../ioq/layout.js';
import { IoqDriverQueue } from '../ioq/queue-ends.js';
import { TurnPoller, checkPollTurns } from '../signal/turn-poller.js';

/** Where and how {@link openDriverRing} lays out one IOQ. */
export interface DriverRingOptions {
  /** The device-defined shm id of the queue (echo: RX 0, TX 1). */
  readonly id: number;
  /** Descriptors in the ring, 1 to IOQ_MAX_COUNT. */
  readonly count: number;
  /** Allocates the ring (64-byte aligned) in guest memory. Give this or `address`. */
  readonly allocator?: GuestAllocator;
  /** A guest address the caller reserved for the ring (`Ioq.byteLength(count)` bytes). */
  readonly address?: number;
  /** Name in errors and introspection; default `<device>.q<id>`. */
  readonly name?: string;
  /** Completions handled per poll before yielding to the event loop (NAPI's weight). Default 64. */
  readonly pollWeight?: number;
  /**
   * Turns of the guest's loop (`GuestConnection.defer`) a drained poll keeps the signal masked
   * and looks again before it unmasks, 0 to 1024 (a {@link TurnPoller}; Linux's NAPI repoll).
   * While it polls, the device finds the signal masked and sends no interrupt: each one that
   * wakes a worker guest's event loop costs the device's thread microseconds. Default 0:
   * unmask as soon as the ring is drained.
   */
  readonly pollTurns?: number;
}

/** What a {@link DriverRing} counted, from the driver's side. */
export interface DriverRingCounters {
  /** Buffers handed to the device. */
  posted: number;
  /** Buffers the device gave back (through polls and direct reclaims). */
  completed: number;
  /** Kicks asked for (by a `post` without `more`, or `flush`); see the signal's counters for how many crossed. */
  kicks: number;
  /** Polls run by device signals, their continuations and the turns of a {@link DriverRingOptions.pollTurns} poller. */
  polls: number;
}

/** `(cookie, len)` of a buffer the device finished: the cookie given to `post`, the length the device wrote. */
export type CompletionHandler = (cookie: number, len: number) => void;

/**
 * The driver's (north's) end of an IOQ shared with a device, its signal already wired: what a
 * driver holds per queue. It adds to {@link IoqDriverQueue} the three things every driver here
 * repeated by hand:
 *
 * - batching: `post(..., more = true)` (Linux's xmit_more) leaves the kick to the last buffer of
 *   a burst, or to {@link flush}; a flush with nothing new posted sends nothing;
 * - notification prevention on completions: the device's signal runs a NAPI-style poll that
 *   masks the signal, hands up to `pollWeight` completions to {@link onComplete}, continues in a
 *   deferred pass while more are waiting, and unmasks when the ring is drained (the shm-signal
 *   re-checks on unmask, so a completion that raced the unmask is not stranded);
 * - a typed signal: {@link signal} is the north endpoint, never undefined.
 *
 * Hot path: posting and polling allocate nothing.
 */
export class DriverRing {
  readonly queue: IoqDriverQueue;
  readonly signal: ShmSignal;
  readonly counters: DriverRingCounters = { posted: 0, completed: 0, kicks: 0, polls: 0 };
  /**
   * Called for each buffer the device finished, in ring order, from the poll a device signal
   * starts. Set it before posting. Unset, signals only count: reap with {@link reclaim}.
   */
  onComplete: CompletionHandler | null = null;
  /**
   * Called after each poll's batch of completions, before the ring is unmasked or the poll
   * continues: where a driver that posted new buffers with `more` from {@link onComplete} kicks
   * once for the batch (`ring.onPollEnd = () => ring.flush()`).
   */
  onPollEnd: (() => void) | null = null;
  private unkicked = false;
  private readonly pollWeight: number;
  private readonly pollFn = (): void => this.poll();
  /** The handler of the poll in progress (onComplete when the poll started). */
  private handling: CompletionHandler = () => {};
  private readonly completeFn: CompletionHandler = (cookie, len) => {
    this.counters.completed++;
    this.handling(cookie, len);
  };
  /** Polls the ring across turns before unmasking (absent with pollTurns 0). */
  private readonly poller: TurnPoller | undefined;

  /** @internal use {@link openDriverRing}. */
  constructor(
    readonly conn: GuestConnection,
    queue: IoqDriverQueue,
    signal: ShmSignal,
    pollWeight: number,
    pollTurns = 0,
  ) {
    this.queue = queue;
    this.signal = signal;
    this.pollWeight = pollWeight;
    queue.signal = signal;
    this.poller =
      pollTurns > 0
        ? new TurnPoller({ nextTurn: (fn) => conn.defer(fn) }, pollTurns, {
            hasWork: () => this.onComplete !== null && !conn.closed && queue.hasCompleted,
            drain: () => this.reap(),
            unmask: () => signal.enable(),
          })
        : undefined;
    signal.handler = () => {
      if (this.onComplete === null) return;
      signal.disable();
      this.poll();
    };
  }

  /** The ring itself (iterators, raw indices), e.g. for tests that play a hostile guest. */
  get ioq(): Ioq {
    return this.queue.ioq;
  }
  get name(): string {
    return this.queue.ioq.name;
  }
  /** Descriptors in the ring. */
  get count(): number {
    return this.queue.count;
  }
  /** Buffers handed to the device and not yet given back. */
  get outstanding(): number {
    return this.queue.outstanding;
  }
  /** True if a buffer can be posted now. */
  get canPost(): boolean {
    return this.queue.canPost;
  }
  /** True if the device finished a buffer not yet reaped. */
  get hasCompleted(): boolean {
    return this.queue.hasCompleted;
  }
  /** Signals this end sent (kicks: injected, suppressed) and received (wakeups, handler runs). */
  get signalCounters(): SignalCounters {
    return this.signal.counters;
  }

  /**
   * Hand `[ptr, ptr+len)` to the device with `cookie` (the driver's own tag, given back on
   * completion). With `more`, more buffers follow: the kick waits for the last one or for
   * {@link flush}, and the buffer is published with its batch (one `Atomics.store` for the batch,
   * {@link IoqDriverQueue.post}): by the post without `more`, {@link flush}, {@link publish}, the
   * end of the poll it was posted from (an rx refill in {@link onComplete}), or every 32 posts
   * (`IOQ_POST_PUBLISH_BATCH`). Returns false, and changes nothing, when the ring is
   * full; a driver that waits for room then must publish what it posted.
   */
  post(ptr: number, len: number, cookie: number, more = false): boolean {
    if (!this.queue.post(ptr, len, cookie, more)) return false;
    this.counters.posted++;
    if (more) this.unkicked = true;
    else this.kick();
    return true;
  }

  /** Make buffers posted with `more` visible to the device without kicking it (a polling device finds them). */
  publish(): void {
    this.queue.publish();
  }

  /**
   * Kick the device for buffers posted with `more`. Does nothing if nothing was posted since the
   * last kick. Returns true if a signal crossed (false: nothing to announce, or the device is
   * polling or already woken, so the kick was suppressed).
   */
  flush(): boolean {
    return this.unkicked ? this.kick() : false;
  }

  /**
   * Reap up to `budget` finished buffers now, outside a poll (a driver that found the ring full).
   * Returns how many were reaped.
   */
  reclaim(fn: CompletionHandler, budget = Infinity): number {
    const n = this.queue.reclaim(fn, budget);
    this.counters.completed += n;
    return n;
  }

  private kick(): boolean {
    this.unkicked = false;
    this.counters.kicks++;
    return this.queue.kick();
  }

  /** One NAPI poll: up to pollWeight completions, then continue later, poll a few turns, or unmask. */
  private poll(): void {
    if (this.onComplete === null) {
      this.poller?.cancel();
      this.signal.enable();
      return;
    }
    if (!this.reap()) return;
    if (this.poller) this.poller.idle();
    else this.signal.enable();
  }

  /** Hand up to pollWeight completions to onComplete. False if more are waiting and a deferred poll continues. */
  private reap(): boolean {
    const handler = this.onComplete;
    if (handler === null) return true;
    this.handling = handler;
    this.counters.polls++;
    const done = this.queue.reclaim(this.completeFn, this.pollWeight);
    this.onPollEnd?.();
    // buffers posted with `more` from onComplete (refills) reach the device with the poll's end
    this.queue.publish();
    if (done === this.pollWeight && !this.conn.closed) {
      this.poller?.cancel();
      this.conn.defer(this.pollFn);
      return false;
    }
    return true;
  }
}

/**
 * Lay out an IOQ of `count` descriptors in the guest's memory, share it with the device under
 * shm id `id` with the ring's own shm-signal, and return the driver's end, signal wired:
 *
 * ```ts
 * const rx = await openDriverRing(conn, { id: ECHO_QUEUE_RX, count: 256, allocator });
 * rx.onComplete = (cookie, len) => { ...; rx.post(buffers[cookie], size, cookie, true); };
 * ```
 */
export async function openDriverRing(conn: GuestConnection, options: DriverRingOptions): Promise<DriverRing> {
  const { id, count } = options;
  if (!Number.isInteger(count) || count < 1 || count > IOQ_MAX_COUNT) throw new ConfigError('count', count, `must be an integer in [1, ${IOQ_MAX_COUNT}]`);
  const weight = options.pollWeight ?? 64;
  if (!Number.isInteger(weight) || weight < 1) throw new ConfigError('pollWeight', weight, 'must be a positive integer');
  const turns = checkPollTurns(options.pollTurns, 0);
  let address: number;
  if (options.address !== undefined && options.allocator === undefined) address = options.address;
  else if (options.allocator !== undefined && options.address === undefined) address = options.allocator.alloc(Ioq.byteLength(count), 64);
  else throw new ConfigError('address', options.address, 'give exactly one of address and allocator');
  const queue = new IoqDriverQueue(conn.memory, address, count, options.name ?? `${conn.device.name}.q${id}`);
  const signal = await conn.shm(id, address, queue.byteLength, queue.signalAddress);
  return new DriverRing(conn, queue, signal, weight, turns);
}
