/**
 * One error family for the whole project. Every error carries a machine-readable `code` and
 * the facts that explain it in fields as well as in the message, so that a user can tell what
 * was wrong and where without parsing text.
 */

const BRAND = Symbol.for('vbus-ts.error');

/** Where on a bus a fault happened: set on an error that a device's handler raised. */
export interface FaultContext {
  /** The device's name on its bus. */
  readonly device: string;
  /** The connection's id (per Vbus), when the fault came from one connection's work. */
  readonly connection?: number;
  /** The queue: the id the guest gave the region (`shm` verb) whose signal ran the handler. */
  readonly queue?: number;
}

/** Base class of every error raised by vbus-ts. Use {@link VbusError.is} to test across realms (workers). */
export class VbusError extends Error {
  /** A stable identifier of the kind of error, e.g. `"ring"`, `"memory"`, `"bus"`. */
  readonly code: string;
  /** Set by the bus when the error failed a device: the device, connection and queue. */
  context?: FaultContext;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
  /** True for any vbus-ts error, even one made in another realm. */
  static is(value: unknown): value is VbusError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** An access to guest memory outside the regions the guest registered. */
export class MemoryAccessError extends VbusError {
  constructor(
    readonly address: number,
    readonly length: number,
    readonly operation: string,
    detail: string,
  ) {
    super('memory', `${operation} of ${length} byte(s) at guest address 0x${address.toString(16)}: ${detail}`);
  }
}

/**
 * A ring (IOQ, virtqueue) holds a value that breaks a rule of its ABI. Raised while reading
 * shared memory that the guest wrote: the device that sees it goes to a failed state.
 */
export class RingError extends VbusError {
  constructor(
    /** Name of the ring, e.g. `"venet0.tx"`. */
    readonly ring: string,
    /** Slot or descriptor index where the bad value was found (-1 for the header). */
    readonly index: number,
    /** The offending value as read. */
    readonly value: number | bigint,
    /** The rule that was broken, in words. */
    readonly rule: string,
  ) {
    super('ring', `ring ${ring}${index >= 0 ? ` index ${index}` : ' header'}: ${rule} (value ${String(value)})`);
  }
}

/** A misuse of the bus API (unknown device, bad config, verb on a closed connection...). */
export class BusError extends VbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('bus', message, options);
  }
}

/** A configuration value that is out of range; names the option and the value. */
export class ConfigError extends VbusError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    rule: string,
  ) {
    super('config', `option ${option} = ${JSON.stringify(value)}: ${rule}`);
  }
}

/**
 * A guest asked for more than a configured limit allows (connections, registrations, bytes).
 * Names the limit, what was asked for and the maximum; the guest's request is refused and
 * nothing else changes.
 */
export class LimitError extends VbusError {
  constructor(
    /** The limit's option name, e.g. `"connectionsPerGuest"`. */
    readonly limit: string,
    /** What the request would have brought the count or size to. */
    readonly value: number,
    /** The configured maximum. */
    readonly max: number,
    where: string,
  ) {
    super('limit', `${where}: limit ${limit} is ${max}, the request needs ${value}`);
  }
}

/**
 * A control message from a guest that breaks the connector's protocol: not an object, an
 * unknown verb, a field of the wrong type or out of range. Names the field and the rule.
 */
export class ProtocolError extends VbusError {
  constructor(
    /** The message field, e.g. `"regions[0].buffer"`, or `"message"` for the whole. */
    readonly field: string,
    readonly rule: string,
    where: string,
  ) {
    super('protocol', `${where}: field ${field}: ${rule}`);
  }
}

/** `"device venet0, connection 3, queue 1"`: a {@link FaultContext} in words. */
export function describeFaultContext(c: FaultContext): string {
  return `device ${c.device}${c.connection !== undefined ? `, connection ${c.connection}` : ''}${c.queue !== undefined ? `, queue ${c.queue}` : ''}`;
}

/**
 * Name where a fault happened: a vbus-ts error gets `context` and its message is prefixed with
 * it (once; the class, code and fields are kept, so a RingError is still a RingError); any other
 * thrown value becomes a {@link BusError} with that prefix and the value as `cause`.
 */
export function withFaultContext(error: unknown, context: FaultContext): VbusError {
  const where = describeFaultContext(context);
  if (VbusError.is(error)) {
    if (error.context === undefined) {
      error.context = context;
      error.message = `${where}: ${error.message}`;
    }
    return error;
  }
  let detail: string;
  try {
    detail = error instanceof Error ? error.message : String(error);
  } catch {
    detail = 'a value that cannot be printed';
  }
  const wrapped = new BusError(`${where}: ${detail}`, { cause: error });
  wrapped.context = context;
  return wrapped;
}
