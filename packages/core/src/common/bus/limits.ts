import { ConfigError } from '../errors.js';

/**
 * Limits the bus enforces for every connector (a guest reaches them with the verbs, whatever
 * carries them). Each refusal is a LimitError to the guest and a count in the device's
 * introspection (`refused`).
 */
export interface BusLimits {
  /** Connections one device may have open at once, across all guests. */
  readonly connectionsPerDevice: number;
  /** Regions (`shm` verbs) one connection may register. */
  readonly shmPerConnection: number;
  /** Bytes of one `call`'s argument. */
  readonly callBytes: number;
  /**
   * Final snapshots of closed connections one device keeps for introspection until they are
   * read (`Bus.takeClosedConnections`); past it the oldest are dropped and counted.
   */
  readonly closedConnectionsKept: number;
}

export const DEFAULT_BUS_LIMITS: BusLimits = Object.freeze({
  connectionsPerDevice: 256,
  shmPerConnection: 64,
  callBytes: 64 * 1024,
  closedConnectionsKept: 16,
});

/** `given` filled in over `defaults`; each must be a positive safe integer (ConfigError otherwise). */
export function checkLimits<T extends object>(prefix: string, defaults: T, given: Partial<T> | undefined): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in defaults)) throw new ConfigError(`${prefix}.${k}`, v, `unknown limit (known: ${Object.keys(defaults).join(', ')})`);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${prefix}.${k}`, v, 'must be a positive integer');
    out[k] = v;
  }
  return Object.freeze(out) as T;
}
