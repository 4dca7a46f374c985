/**
 * Where time comes from: a replaceable service, bound in the container under {@link Clock}.
 * Everything in vbus-ts that reads time (timeouts, rate thresholds, MAC-table aging, link
 * latency) reads it here, so an embedder that runs a simulation in virtual time gives the whole
 * bus its clock in one binding, and two runs of the same scenario see the same times.
 */
export interface Clock {
  /**
   * The current time in milliseconds, possibly fractional (sub-millisecond resolution), on a
   * monotonic scale: it never goes backwards. Its origin is the clock's own (process start for
   * {@link systemClock}, 0 for a virtual-time scheduler); only differences mean anything.
   */
  now(): number;
}

/** Inversify token for the {@link Clock}. */
export const Clock = Symbol.for('vbus-ts.Clock');

/** The default clock: the platform's `performance.now()` (monotonic, fractional milliseconds). */
export const systemClock: Clock = Object.freeze({ now: () => performance.now() });
