/**
 * The connector contract for messages from a guest (docs/architecture.md section 4): every value
 * a guest sends over a control channel is hostile until checked. These readers check the shape
 * before any field is read and copy what they accept into fresh host values:
 * - fields are read as own data properties only, so no getter or inherited property runs;
 * - buffers are brand-checked with the engine's own accessors (a plain object with a
 *   `byteLength`, a `length` or a faked `Symbol.toStringTag` is not a buffer), and their real size
 *   is what the checks use;
 * - numbers must be safe integers inside stated bounds; arrays are measured before they are
 *   walked, so an array-like with a huge `length` costs nothing.
 * Every refusal is a {@link ProtocolError} naming the field and the rule, or a {@link LimitError}.
 */
import { LimitError, ProtocolError } from '../errors.js';
import { checkLimits } from '../bus/limits.js';

/** Limits a connector enforces per guest. Each has a safe default ({@link DEFAULT_CONNECTOR_LIMITS}). */
export interface ConnectorLimits {
  /** Connections one guest may hold open at once. */
  readonly connectionsPerGuest: number;
  /** Memory regions one guest may register. */
  readonly regionsPerGuest: number;
  /** Total bytes of those regions. */
  readonly memoryPerGuest: number;
  /** Requests (verbs awaiting their reply) one guest may have outstanding. */
  readonly requestsInFlight: number;
}

/** The per-guest limits a connector applies when none are given (docs/reliability-hostile.md lists each). */
export const DEFAULT_CONNECTOR_LIMITS: ConnectorLimits = Object.freeze({
  connectionsPerGuest: 64,
  regionsPerGuest: 16,
  memoryPerGuest: 2 ** 32,
  requestsInFlight: 256,
});

/** Fill in and check connector limits given by an embedder (a ConfigError names a bad one). */
export function connectorLimits(given: Partial<ConnectorLimits> | undefined): ConnectorLimits {
  return checkLimits('limits', DEFAULT_CONNECTOR_LIMITS, given);
}

/** Count against a limit: throws a {@link LimitError} if `value` would exceed `max`. */
export function withinLimit(limit: string, value: number, max: number, where: string): void {
  if (value > max) throw new LimitError(limit, value, max, where);
}

/**
 * The value of own data property `key` of `obj`, or undefined. A getter is never run, an
 * inherited property never read. A Proxy's trap may still run (nothing tells a Proxy apart
 * without asking it); if it throws, the refusal is a {@link ProtocolError} naming the field
 * (`owner.key`, or `owner[key]` for an element), never the thrown value or its text (which the
 * guest chose).
 */
export function field(obj: object, key: string, where: string, owner?: string): unknown {
  let d: PropertyDescriptor | undefined;
  try {
    d = Object.getOwnPropertyDescriptor(obj, key);
  } catch {
    throw unreadable(owner === undefined ? key : /^\d+$/.test(key) ? `${owner}[${key}]` : `${owner}.${key}`, where);
  }
  return d !== undefined && 'value' in d ? d.value : undefined;
}

/** The refusal of a field whose object threw when asked for it (a Proxy's trap). */
function unreadable(name: string, where: string): ProtocolError {
  return new ProtocolError(name, 'could not be read: its object is a proxy whose trap threw', where);
}

/** `Array.isArray(v)`, which throws for a revoked Proxy: then a refusal naming the field. */
function isArray(v: unknown, name: string, where: string): v is unknown[] {
  try {
    return Array.isArray(v);
  } catch {
    throw unreadable(name, where);
  }
}

/** `v` as an object whose fields may be read with {@link field}: not null, not an array. */
export function record(v: unknown, name: string, where: string): object {
  if (typeof v !== 'object' || v === null || isArray(v, name, where)) throw new ProtocolError(name, `must be an object, got ${kind(v)}`, where);
  return v;
}

/** A safe integer in [min, max]. */
export function integer(v: unknown, name: string, min: number, max: number, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ProtocolError(name, `must be an integer in [${min}, ${max}], got ${kind(v)}`, where);
  return v;
}

/** A string of at most `maxLength` UTF-16 units. */
export function text(v: unknown, name: string, maxLength: number, where: string): string {
  if (typeof v !== 'string' || v.length > maxLength) throw new ProtocolError(name, `must be a string of at most ${maxLength} characters, got ${kind(v)}`, where);
  return v;
}

/**
 * A real array of at most `max` elements, copied element by element (own data properties only);
 * too many is a {@link LimitError} under `limit`.
 */
export function list(v: unknown, name: string, limit: string, max: number, where: string): unknown[] {
  if (!isArray(v, name, where)) throw new ProtocolError(name, `must be an array, got ${kind(v)}`, where);
  const n = field(v, 'length', where, name);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ProtocolError(`${name}.length`, 'must be a non-negative integer', where);
  withinLimit(limit, n, max, where);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(field(v, String(i), where, name));
  return out;
}

// A page that is not cross-origin isolated has no SharedArrayBuffer: then nothing is one, and the
// module still loads (the connectors say why they cannot run).
const sharedByteLength = typeof SharedArrayBuffer === 'function' ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')!.get! : undefined;
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)!.get!;
const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, 'length')!.get!;

/** The real byte length of `v` if it is a SharedArrayBuffer of this realm or another, else -1. */
export function sharedBufferLength(v: unknown): number {
  if (typeof v !== 'object' || v === null || sharedByteLength === undefined) return -1;
  try {
    return sharedByteLength.call(v) as number;
  } catch {
    return -1;
  }
}

/** A real SharedArrayBuffer of at least `minBytes` bytes (not a typed array, not an array-like). */
export function sharedBuffer(v: unknown, name: string, minBytes: number, where: string): SharedArrayBuffer {
  const n = sharedBufferLength(v);
  if (n < 0) throw new ProtocolError(name, `must be a SharedArrayBuffer, got ${kind(v)}`, where);
  if (n < minBytes) throw new ProtocolError(name, `must be at least ${minBytes} bytes, got ${n}`, where);
  return v as SharedArrayBuffer;
}

/** A real Uint8Array (its true length, not a `length` field). */
export function uint8Array(v: unknown, name: string, where: string): Uint8Array {
  let tag: unknown;
  try {
    tag = typedArrayTag.call(v);
  } catch {
    tag = undefined;
  }
  if (tag !== 'Uint8Array') throw new ProtocolError(name, `must be a Uint8Array, got ${kind(v)}`, where);
  return v as Uint8Array;
}

/** The real length of a Uint8Array checked by {@link uint8Array} (the engine's, not an own `length` it may carry). */
export function byteLength(v: Uint8Array): number {
  return typedArrayLength.call(v) as number;
}

/** A short description of a hostile value for an error message; never calls into it. */
export function kind(v: unknown): string {
  if (v === null) return 'null';
  let array: boolean;
  try {
    array = Array.isArray(v);
  } catch {
    return 'a revoked proxy';
  }
  if (array) return 'an array';
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? `the number ${v}` : String(v);
    case 'string':
      return `a string of ${v.length} characters`;
    case 'object': {
      if (sharedBufferLength(v) >= 0) return `a ${sharedBufferLength(v)}-byte SharedArrayBuffer`;
      let tag: unknown;
      try {
        tag = typedArrayTag.call(v);
      } catch {
        tag = undefined;
      }
      return typeof tag === 'string' ? `a ${tag}` : 'an object';
    }
    default:
      return typeof v;
  }
}
