/** Messages on the control port between a guest worker and the bus. @internal */
import type { DeviceInfo } from '../bus/introspection.js';
import { ProtocolError } from '../errors.js';
import { WAKE_WORD_CELLS } from './doorbell.js';
import { byteLength, field, integer, kind, list, record, sharedBuffer, sharedBufferLength, text, uint8Array, withinLimit, type ConnectorLimits } from './untrusted.js';

export interface RegionMessage {
  address: number;
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

export type GuestToHost =
  | { t: 'hello'; guest: string; regions: RegionMessage[]; wake: SharedArrayBuffer | undefined }
  | { t: 'devices'; req: number }
  | { t: 'open'; req: number; name: string }
  | { t: 'call'; req: number; conn: number; func: number; data: Uint8Array }
  | { t: 'shm'; req: number; conn: number; id: number; address: number; length: number; signalAddress: number | undefined }
  | { t: 'close'; req: number; conn: number };

export type HostToGuest =
  | { t: 'reply'; req: number; ok: true; value: unknown }
  | { t: 'reply'; req: number; ok: false; error: { name: string; code: string; message: string } }
  | { t: 'closed'; conn: number; reason: string };

export interface OpenReply {
  conn: number;
  device: DeviceInfo;
  doorbell: SharedArrayBuffer;
}

/** How a refusal of an unknown verb begins (its rule), so that it is counted apart. */
export const UNKNOWN_VERB = 'unknown verb';
/** The verbs a guest may send; anything else is refused. */
const VERBS = new Set(['hello', 'devices', 'open', 'call', 'shm', 'close']);
/** Bound on a device name in `open` (a bus allows 64 characters). */
const MAX_NAME = 64;
/** Bound on the guest's self-reported name (shown nowhere: the host names the guest). */
const MAX_GUEST_NAME = 256;
/** The wake word: its sequence and its owner's asleep word, two Int32s. */
const WAKE_BYTES = WAKE_WORD_CELLS * 4;

/** Own data field `key` of a message that may be anything; undefined if it cannot be read. */
function peek(m: unknown, key: string): unknown {
  try {
    return typeof m === 'object' && m !== null && !Array.isArray(m) ? field(m, key, '') : undefined;
  } catch {
    return undefined;
  }
}

/** The request number of a message if it carries a usable one (to address a refusal), else undefined. */
export function requestOf(m: unknown): number | undefined {
  const req = peek(m, 'req');
  return typeof req === 'number' && Number.isSafeInteger(req) && req >= 0 ? req : undefined;
}

/** The verb of a message if it names one, else undefined. */
export function verbOf(m: unknown): string | undefined {
  const t = peek(m, 't');
  return typeof t === 'string' ? t : undefined;
}

/**
 * Check a message from a guest and copy it into a fresh, well-typed value (see
 * common/connector/untrusted.ts for the rules). Throws a ProtocolError or a LimitError.
 */
export function parseGuestMessage(m: unknown, limits: ConnectorLimits & { callBytes: number }, where: string): GuestToHost {
  const o = record(m, 'message', where);
  const t = field(o, 't', where);
  if (typeof t !== 'string') throw new ProtocolError('t', `must be a verb (a string), got ${kind(t)}`, where);
  if (!VERBS.has(t)) throw new ProtocolError('t', `${UNKNOWN_VERB} ${JSON.stringify(t.slice(0, 32))} (known: ${[...VERBS].join(', ')})`, where);
  if (t === 'hello') {
    const guestName = field(o, 'guest', where);
    const raw = list(field(o, 'regions', where), 'regions', 'regionsPerGuest', limits.regionsPerGuest, where);
    let total = 0;
    const regions: RegionMessage[] = raw.map((r, i) => {
      const name = `regions[${i}]`;
      const ro = record(r, name, where);
      const buffer = sharedBuffer(field(ro, 'buffer', where, name), `${name}.buffer`, 1, where);
      const size = sharedBufferLength(buffer);
      const offset = integer(field(ro, 'offset', where, name) ?? 0, `${name}.offset`, 0, size - 1, where);
      const length = integer(field(ro, 'length', where, name), `${name}.length`, 1, size - offset, where);
      const address = integer(field(ro, 'address', where, name), `${name}.address`, 0, Number.MAX_SAFE_INTEGER - length, where);
      total += length;
      withinLimit('memoryPerGuest', total, limits.memoryPerGuest, where);
      return { address, buffer, offset, length };
    });
    const w = field(o, 'wake', where);
    const wake = w === undefined ? undefined : sharedBuffer(w, 'wake', WAKE_BYTES, where);
    return { t, guest: typeof guestName === 'string' ? guestName.slice(0, MAX_GUEST_NAME) : '', regions, wake };
  }
  const req = integer(field(o, 'req', where), 'req', 0, Number.MAX_SAFE_INTEGER, where);
  switch (t) {
    case 'devices':
      return { t, req };
    case 'open':
      return { t, req, name: text(field(o, 'name', where), 'name', MAX_NAME, where) };
    case 'call': {
      const data = uint8Array(field(o, 'data', where), 'data', where);
      const n = byteLength(data);
      withinLimit('callBytes', n, limits.callBytes, where);
      // a copy made from the array's internal slots: nothing the guest attached to it is read
      return { t, req, conn: connection(o, where), func: integer(field(o, 'func', where), 'func', 0, 0xffff_ffff, where), data: new Uint8Array(data) };
    }
    case 'shm': {
      const s = field(o, 'signalAddress', where);
      return {
        t,
        req,
        conn: connection(o, where),
        id: integer(field(o, 'id', where), 'id', 0, 0xffff_ffff, where),
        address: integer(field(o, 'address', where), 'address', 0, Number.MAX_SAFE_INTEGER, where),
        length: integer(field(o, 'length', where), 'length', 1, Number.MAX_SAFE_INTEGER, where),
        signalAddress: s === undefined ? undefined : integer(s, 'signalAddress', 0, Number.MAX_SAFE_INTEGER, where),
      };
    }
    default:
      return { t: 'close', req, conn: connection(o, where) };
  }
}

function connection(o: object, where: string): number {
  return integer(field(o, 'conn', where), 'conn', 0, Number.MAX_SAFE_INTEGER, where);
}
