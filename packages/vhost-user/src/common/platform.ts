/**
 * What a vhost-user session asks of the operating system, and what it counts of the eventfd
 * traffic: kept apart from the protocol so the session stays in common/ and is tested (and
 * fuzzed) without sockets; node/ implements the platform with the native addon.
 */

/**
 * What the session needs from the operating system, so that the protocol logic stays in common/
 * and is tested without sockets: the node/ side implements it with the native addon.
 */
export interface VhostPlatform {
  /** Map the first `length` bytes of `fd` shared and read-write. Throws if it cannot. */
  map(fd: number, length: number): SharedArrayBuffer;
  /** Close a file descriptor the front end sent. */
  close(fd: number): void;
  /** Watch eventfd `fd`; `onKick(count)` runs with the counter read each time it fires. Returns a stop function. */
  watch(fd: number, onKick: (count: number) => void): () => void;
  /** Add one to eventfd `fd`. */
  signal(fd: number): void;
  /** True if eventfd `fd` was written and its consumer has not read it yet (optional: without it every call is written). */
  pending?(fd: number): boolean;
}

/** Guest↔host transitions as the eventfds saw them: the figure notification prevention is about. */
export interface TransitionCounters {
  /** Guest notifications (kicks): the sum of the kick eventfds' counters. */
  kicks: number;
  /** Times a kick eventfd woke us (several kicks can arrive in one wake). */
  kickWakeups: number;
  /** Writes to the call eventfds (interrupts requested from the front end). */
  calls: number;
  /** Used-buffer notifications not sent because the vring had no call fd. */
  callsSuppressed: number;
  /**
   * Calls not written because the call eventfd still held an unread one: the front end will read
   * it and interrupt the guest after our used-ring writes, so one interrupt covers both.
   */
  callsCoalesced: number;
}

/** Close `fd` through the platform, ignoring an fd that is already closed. */
export function safeClose(platform: VhostPlatform, fd: number | null): void {
  if (fd === null) return;
  try {
    platform.close(fd);
  } catch {
    /* already closed */
  }
}
