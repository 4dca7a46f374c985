import { VbusError } from '@vbus/core';

/**
 * An error of a network backend: a socket that failed, a peer that broke the framing, an
 * address that is not valid. Carries the backend, a stable reason and the offending value in
 * fields as well as in the message.
 */
export class NetError extends VbusError {
  constructor(
    /** The backend (or responder) that raised it, e.g. `"qemu-stream tcp:127.0.0.1:5555"`. */
    readonly backend: string,
    /** A stable reason code: `"frame-length"`, `"truncated"`, `"socket"`, `"no-route"`, `"timeout"`... */
    readonly reason: string,
    /** The offending value, when there is one (a length, an address). */
    readonly value: unknown,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('net', `${backend}: ${detail}${value === undefined ? '' : ` (value ${formatValue(value)})`}`, options);
  }
  /** True for a NetError (code `"net"`), even one made by another copy of the package or in another realm; use it, not `instanceof`. */
  static override is(value: unknown): value is NetError {
    return VbusError.is(value) && value.code === 'net';
  }
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
