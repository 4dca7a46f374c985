/**
 * The oracle every fuzz target applies to every case (docs/architecture.md section 4):
 * - no exception escapes into the caller or the event loop, except the typed errors (VbusError)
 *   where an API is documented to throw;
 * - the device either makes valid progress or is failed with a VbusError whose message names the
 *   queue, the index (or the header) and the rule;
 * - no access outside the guest's registered regions (RecordingMemory);
 * - no hang: every case reaches quiescence within a bounded number of event-loop turns and a
 *   bounded number of memory accesses;
 * - afterwards a second, healthy device on the same bus still moves frames.
 */
import { VbusError } from '@vbus/core';
import type { RecordingMemory } from './recording-memory.js';

/** An oracle rule was broken. The message says which. */
export class OracleFailure extends Error {
  override readonly name = 'OracleFailure';
}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new OracleFailure(message);
}

/** A thrown value must be a typed project error. Returns it. */
export function typed(error: unknown, where: string): VbusError {
  if (error instanceof OracleFailure) throw error;
  check(VbusError.is(error), `${where}: untyped error escaped: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  return error;
}

/** Call `fn`; if it throws, the error must be typed. Returns the error or undefined. */
export async function tolerate(where: string, fn: () => unknown): Promise<VbusError | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return typed(e, where);
  }
}

/**
 * A device's failure error must name a queue (by `queue`), an index or the header, and a rule
 * (some words after a colon).
 */
export function checkNamedError(error: VbusError | null | undefined, queue: RegExp, where: string): void {
  check(error, `${where}: failed without an error`);
  const m = error.message;
  check(queue.test(m), `${where}: error does not name the queue (${queue}): ${m}`);
  check(/(index -?\d+|header)/.test(m), `${where}: error does not name an index or the header: ${m}`);
  check(/: \S+.{8,}/.test(m), `${where}: error does not state a rule: ${m}`);
  check(!/unexpected error|undefined|NaN|\[object/.test(m), `${where}: error hides an internal fault: ${m}`);
  // a MemoryAccessError inside a device failure means the device touched guest memory with a
  // value it had not checked (a missing check, or a double fetch the guest raced)
  check(!/byte\(s\) at guest address/.test(m), `${where}: the device made an unchecked guest-memory access: ${m}`);
}

/** No recorded access outside the allowed regions. */
export function checkMemory(mem: RecordingMemory, where: string): void {
  const v = mem.violations[0];
  check(v === undefined, `${where}: ${v?.op} of ${v?.length} bytes at 0x${v?.address.toString(16)} is outside the guest's regions`);
}

// ---- escapes into the event loop ----

const escaped: unknown[] = [];
let trapInstalled = false;

/**
 * Record uncaught exceptions and unhandled rejections (the CLI runs with this; under vitest the
 * runner reports them itself and fails the test).
 */
export function installEscapeTrap(): void {
  if (trapInstalled) return;
  trapInstalled = true;
  process.on('uncaughtException', (e) => escaped.push(e));
  process.on('unhandledRejection', (e) => escaped.push(e));
}

/** Throw if anything escaped since the last call. */
export function checkNoEscapes(where: string): void {
  const e = escaped.splice(0);
  check(e.length === 0, `${where}: ${e.length} error(s) escaped into the event loop: ${e.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')}`);
}

// ---- bounded progress ----

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Let the event loop run until the host stops touching guest memory for `quiet` turns in a row.
 * Fails (a hang) if that does not happen within `maxTurns` turns or `maxAccesses` accesses.
 * Returns the turns it took.
 */
export async function settleQuiet(
  mems: RecordingMemory[],
  where: string,
  opts: { quiet?: number; maxTurns?: number; maxAccesses?: number; until?: () => boolean } = {},
): Promise<number> {
  const quiet = opts.quiet ?? 3;
  const maxTurns = opts.maxTurns ?? 500;
  const maxAccesses = opts.maxAccesses ?? 2_000_000;
  const total = () => mems.reduce((s, m) => s + m.accesses + m.refused, 0);
  let last = total();
  let still = 0;
  for (let t = 1; t <= maxTurns; t++) {
    await turn();
    const now = total();
    check(now <= maxAccesses, `${where}: hang: ${now} guest-memory accesses (bound ${maxAccesses})`);
    if (now === last && (opts.until?.() ?? true)) {
      if (++still >= quiet) return t;
    } else still = 0;
    last = now;
  }
  throw new OracleFailure(`${where}: hang: still busy after ${maxTurns} event-loop turns (${total()} accesses)`);
}
