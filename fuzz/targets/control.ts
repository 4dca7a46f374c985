/**
 * Target "control": the worker connector's control channel. A hostile guest sends a sequence of
 * messages, each either nearly valid (hello with its regions and wake word, devices, open, call,
 * shm, close, with one field bent) or anything at all (JSON values, numbers, null, arrays,
 * array-likes with huge lengths, fake SharedArrayBuffers, typed arrays where a buffer belongs,
 * objects whose getters throw, proxies, Uint8Arrays lying about their length), through the real
 * port (structured clone) or straight into the host's listener. Limits are set small, so that the
 * sequences reach them. Oracle: nothing escapes; every request with a usable number gets exactly
 * one reply, and a refusal is a typed error (protocol, limit, bus...) that hides no internal
 * fault; unknown verbs are never acknowledged; no limit is ever exceeded; no message is slow to
 * handle; on exit the host holds nothing of the guest; the healthy neighbour still moves frames.
 */
import fc from 'fast-check';
import { Ioq, IoqDriverQueue, RegionMemory, type BusLimits, type ConnectorLimits } from '@vbus/core';
import { check, checkNoEscapes, OracleFailure } from '../oracle.js';
import { controlRig, throwingProxy } from '../harness/control.js';
import { checkHealthy, dropBus, freshBus, openHealthy } from '../harness/venet.js';
import { CaptureBackend } from '@vbus/net/testing';
import { target, type Outcome } from '../target.js';

/** A JSON value as fast-check's jsonValue() makes it. */
type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A description of a JavaScript value (cases are JSON; this says how to build the value). */
export type Val =
  | { k: 'json'; x: JsonValue }
  | { k: 'undefined' }
  | { k: 'nan' }
  | { k: 'bigint'; x: string }
  | { k: 'sab' | 'ab' | 'u8' | 'u8shared' | 'i32'; size: number }
  | { k: 'arrayLike'; length: number }
  | { k: 'getter' }
  | { k: 'proxy' }
  | { k: 'fakeSab'; size: number }
  | { k: 'lyingU8'; size: number; claim: number };

type Num = number | Val;
type ConnRef = { opened: number } | { raw: Num };

export type Msg =
  | { m: 'raw'; value: Val }
  | { m: 'hello'; regions: Array<{ address: Num; buffer: Val; offset: Num; length: Num }> | Val; wake: Val }
  | { m: 'devices'; req: Num }
  | { m: 'open'; req: Num; name: string | Val }
  | { m: 'call'; req: Num; conn: ConnRef; func: Num; data: Val }
  | { m: 'shm'; req: Num; conn: ConnRef; id: Num; address: Num; length: Num; signalAddress: Num | null }
  /** shm of a real, formatted IOQ (4 descriptors) in slot `slot` of the guest's first region */
  | { m: 'ring'; req: Num; conn: ConnRef; id: Num; slot: number }
  | { m: 'close'; req: Num; conn: ConnRef }
  | { m: 'verb'; req: Num; t: string };

export interface ControlCase {
  /** Start with a valid hello (one 64 KiB region), and an open of venet0, so that the sequence gets past them. */
  prelude: 'none' | 'hello' | 'open';
  limits: ConnectorLimits;
  bus: Omit<BusLimits, 'closedConnectionsKept'>;
  steps: Array<{ msg: Msg; via: 'port' | 'direct'; /** send the next one in the same turn */ burst: boolean }>;
}

const BASE = 0x10000;
const SIZE = 0x10000;
const VERBS = ['hello', 'devices', 'open', 'call', 'shm', 'close'];
/** Codes a refusal may carry: the project's typed errors. */
const CODES = new Set(['protocol', 'limit', 'bus', 'config', 'memory', 'ring']);
/** Handling one message synchronously must take far less than this (an array-like walk took tens of seconds). */
const SLOW_MS = 2000;

const val = (): fc.Arbitrary<Val> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((x) => ({ k: 'json' as const, x: x as JsonValue })) },
    { weight: 1, arbitrary: fc.constantFrom({ k: 'undefined' as const }, { k: 'nan' as const }, { k: 'getter' as const }, { k: 'proxy' as const }) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((x) => ({ k: 'bigint' as const, x: String(x) })) },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constantFrom('sab' as const, 'ab' as const, 'u8' as const, 'u8shared' as const, 'i32' as const),
        size: fc.constantFrom(0, 1, 3, 4, 8, 64, 4096, SIZE),
      }),
    },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('arrayLike' as const), length: fc.constantFrom(0, 1, 2 ** 20, 2 ** 30, 2 ** 32 - 1, 2 ** 53 - 1, -1) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('fakeSab' as const), size: fc.constantFrom(4, SIZE, 2 ** 30) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('lyingU8' as const), size: fc.constantFrom(0, 4, 64), claim: fc.constantFrom(2 ** 30, 2 ** 53 - 1, 0) }) },
  );

/** Mostly a plausible integer, sometimes a boundary, sometimes anything. */
const num = (plausible: fc.Arbitrary<number>): fc.Arbitrary<Num> =>
  fc.oneof({ weight: 6, arbitrary: plausible }, { weight: 2, arbitrary: fc.constantFrom(-1, 0.5, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -0) }, { weight: 1, arbitrary: val() });

const req = (): fc.Arbitrary<Num> => fc.oneof({ weight: 9, arbitrary: fc.constant(-2) /* filled in by run(): a fresh number */ }, { weight: 1, arbitrary: num(fc.nat(10)) });
const conn = (): fc.Arbitrary<ConnRef> =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 0, 0, 1, 2).map((i) => ({ opened: i })) }, { weight: 1, arbitrary: num(fc.nat(20)).map((raw) => ({ raw })) });
const sabVal = (size: number): Val => ({ k: 'sab', size });

const bentRegion = fc.record({
  address: num(fc.constantFrom(BASE, BASE + SIZE, 0, 0x20_0000)),
  buffer: fc.oneof({ weight: 4, arbitrary: fc.constant(sabVal(SIZE)) }, { weight: 1, arbitrary: val() }),
  offset: num(fc.constantFrom(0, 0, 16, SIZE - 1)),
  length: num(fc.constantFrom(SIZE, SIZE, SIZE - 16, 1, SIZE + 1)),
});

/** A valid 64 KiB region, at one of a few addresses (two may overlap: that is refused too). */
const validRegion = fc.constantFrom(BASE, BASE + SIZE, 0x20_0000, 0x30_0000).map((address) => ({ address, buffer: sabVal(SIZE), offset: 0, length: SIZE }));
const region = fc.oneof({ weight: 2, arbitrary: validRegion }, { weight: 3, arbitrary: bentRegion });

const msg: fc.Arbitrary<Msg> = fc.oneof(
  { weight: 2, arbitrary: val().map((value) => ({ m: 'raw' as const, value })) },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('hello' as const),
      regions: fc.oneof({ weight: 5, arbitrary: fc.array(region, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: val() }),
      wake: fc.oneof(
        { weight: 3, arbitrary: fc.constant<Val>({ k: 'undefined' }) },
        { weight: 2, arbitrary: fc.constantFrom<Val>(sabVal(4), sabVal(0), sabVal(3), { k: 'ab', size: 4 }, { k: 'i32', size: 4 }) },
        { weight: 1, arbitrary: val() },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('devices' as const), req: req() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      m: fc.constant('open' as const),
      req: req(),
      name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('venet0', 'venet0', 'venet2', 'nope', 'venet1', 'x'.repeat(65)) }, { weight: 1, arbitrary: val() }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      m: fc.constant('call' as const),
      req: req(),
      conn: conn(),
      func: num(fc.nat(8)),
      data: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom<Val>({ k: 'u8', size: 8 }, { k: 'u8', size: 0 }, { k: 'u8', size: 4096 }, { k: 'u8shared', size: 64 }) },
        { weight: 2, arbitrary: val() },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('shm' as const),
      req: req(),
      conn: conn(),
      id: num(fc.nat(3)),
      address: num(fc.constantFrom(BASE, BASE + 0x1000, BASE + SIZE - 4)),
      length: num(fc.constantFrom(64, 4096, 1)),
      signalAddress: fc.oneof(fc.constant(null), num(fc.constantFrom(BASE + 0x40, BASE + 0x41))),
    }),
  },
  { weight: 4, arbitrary: fc.record({ m: fc.constant('ring' as const), req: req(), conn: conn(), id: num(fc.constantFrom(0, 1, 1, 2)), slot: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('close' as const), req: req(), conn: conn() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      m: fc.constant('verb' as const),
      req: req(),
      t: fc.oneof(fc.constantFrom('reply', 'closed', 'Open', 'open ', '__proto__', 'constructor', 'toString', ''), fc.string({ maxLength: 8 })),
    }),
  },
);

export const controlArbitrary: fc.Arbitrary<ControlCase> = fc.record({
  prelude: fc.constantFrom('none' as const, 'hello' as const, 'open' as const, 'open' as const),
  limits: fc.record({
    connectionsPerGuest: fc.integer({ min: 1, max: 4 }),
    regionsPerGuest: fc.integer({ min: 1, max: 3 }),
    memoryPerGuest: fc.constantFrom(SIZE, SIZE, 2 * SIZE, 4 * SIZE),
    requestsInFlight: fc.integer({ min: 1, max: 8 }),
  }),
  bus: fc.record({
    connectionsPerDevice: fc.constantFrom(1, 1, 2, 4),
    shmPerConnection: fc.constantFrom(1, 1, 2, 4),
    callBytes: fc.constantFrom(16, 64, 4096),
  }),
  steps: fc.array(fc.record({ msg, via: fc.constantFrom('port' as const, 'port' as const, 'direct' as const), burst: fc.boolean() }), { minLength: 1, maxLength: 16 }),
});

const VALID_HELLO: Msg = { m: 'hello', regions: [{ address: BASE, buffer: sabVal(SIZE), offset: 0, length: SIZE }], wake: { k: 'undefined' } };

/** Build the value a description stands for. */
export function materialize(v: Val): unknown {
  switch (v.k) {
    case 'json':
      return v.x;
    case 'undefined':
      return undefined;
    case 'nan':
      return Number.NaN;
    case 'bigint':
      return BigInt(v.x);
    case 'sab':
      return new SharedArrayBuffer(v.size);
    case 'ab':
      return new ArrayBuffer(v.size);
    case 'u8':
      return new Uint8Array(v.size);
    case 'u8shared':
      return new Uint8Array(new SharedArrayBuffer(v.size));
    case 'i32':
      return new Int32Array(v.size >> 2);
    case 'arrayLike':
      return { length: v.length, byteLength: v.length };
    case 'getter': {
      const o = {};
      for (const k of ['t', 'req', 'regions', 'buffer', 'address', 'offset', 'length', 'byteLength', 'data', 'conn', 'name', 'wake', '0'])
        Object.defineProperty(o, k, {
          enumerable: true,
          get: () => {
            throw new Error(`getter ${k} ran on the host`);
          },
        });
      return o;
    }
    case 'proxy':
      return throwingProxy([]);
    case 'fakeSab':
      return { byteLength: v.size, length: v.size, [Symbol.toStringTag]: 'SharedArrayBuffer' };
    case 'lyingU8': {
      const u = new Uint8Array(v.size);
      Object.defineProperty(u, 'length', { value: v.claim });
      Object.defineProperty(u, 'byteLength', { value: v.claim });
      return u;
    }
  }
}

/** Refusals seen across all cases run in this process, by counter: shows which limits the cases reach. */
export const refusals: Record<string, number> = {};

const numeric = (n: Num): unknown => (typeof n === 'number' ? n : materialize(n));

export async function runControl(c: ControlCase): Promise<Outcome> {
  const bus = freshBus();
  const where = 'control';
  // two devices for the hostile guest (a venet device takes one connection at a time)
  bus.createDevice('virtual-ethernet', 'venet0', { backend: new CaptureBackend(), ringSize: 8 });
  bus.createDevice('virtual-ethernet', 'venet2', { backend: new CaptureBackend(), ringSize: 8 });
  const healthy = await openHealthy(bus, 'venet1');
  // after the neighbour is set up: the limits are the hostile guest's to hit
  bus.setLimits(c.bus);
  const rig = controlRig(bus, c.limits);
  /** conn ids from successful open replies, in order */
  const opened: number[] = [];
  /** requests with a fresh number: req -> [step, verb] */
  const expected = new Map<number, { step: number; unknownVerb: boolean }>();
  const answered = new Map<number, number>();
  let seen = 0;
  let progress = false;
  const turn = () => new Promise<void>((r) => setImmediate(r));
  const absorb = (): void => {
    for (; seen < rig.received.length; seen++) {
      const r = rig.received[seen] as { t: string; req: number; ok: boolean; value?: { conn?: number }; error?: { name: string; code: string; message: string } };
      check(r !== null && typeof r === 'object' && (r.t === 'reply' || r.t === 'closed'), `${where}: the host sent ${JSON.stringify(r)}`);
      if (r.t !== 'reply') continue;
      answered.set(r.req, (answered.get(r.req) ?? 0) + 1);
      const e = expected.get(r.req);
      if (e) check(answered.get(r.req) === 1, `${where}: request ${r.req} (step ${e.step}) got ${answered.get(r.req)} replies`);
      if (r.ok) {
        check(!e?.unknownVerb, `${where}: an unknown verb (step ${e?.step}) was acknowledged`);
        progress = true;
        if (r.value && typeof r.value === 'object' && typeof r.value.conn === 'number') opened.push(r.value.conn);
      } else {
        const err = r.error!;
        check(CODES.has(err.code), `${where}: request ${r.req} was refused with an untyped error: ${err.name} (${err.code}): ${err.message}`);
        check(/Error$/.test(err.name) && err.message.length > 8, `${where}: refusal of ${r.req} does not say what was wrong: ${JSON.stringify(err)}`);
        check(
          !/\[object|TypeError|RangeError|Cannot read|is not a function|getter .* ran|trap ran/.test(err.message),
          `${where}: refusal of ${r.req} hides an internal fault: ${err.message}`,
        );
      }
    }
  };
  const checkLimits = (step: number): void => {
    const s = rig.connector.introspect().guests[0];
    const at = `${where} after step ${step}`;
    check(rig.guest.connections() <= c.limits.connectionsPerGuest, `${at}: ${rig.guest.connections()} connections (limit ${c.limits.connectionsPerGuest})`);
    check(rig.guest.memoryBytes() <= c.limits.memoryPerGuest, `${at}: ${rig.guest.memoryBytes()} bytes of guest memory held (limit ${c.limits.memoryPerGuest})`);
    check(!s || s.regions <= c.limits.regionsPerGuest, `${at}: ${s?.regions} regions (limit ${c.limits.regionsPerGuest})`);
    for (const dev of bus.introspect().devices) {
      check(
        dev.connections.length <= Math.max(1, c.bus.connectionsPerDevice),
        `${at}: ${dev.name} has ${dev.connections.length} connections (limit ${c.bus.connectionsPerDevice})`,
      );
      for (const k of dev.connections)
        if (k.guest === 'hostile') check(k.regions.length <= c.bus.shmPerConnection, `${at}: a connection holds ${k.regions.length} regions (limit ${c.bus.shmPerConnection})`);
    }
  };
  /** The guest's first region as it last said hello with one (where 'ring' steps format their rings). */
  let guestRam: RegionMemory | undefined;
  const prelude = [
    { msg: VALID_HELLO, via: 'port' as const, burst: false },
    { msg: { m: 'open', req: -2, name: 'venet0' } as Msg, via: 'port' as const, burst: false },
  ].slice(0, { none: 0, hello: 1, open: 2 }[c.prelude]);
  const steps = [...prelude, ...c.steps];
  try {
    for (let i = 0; i < steps.length; i++) {
      const { msg: m, via, burst } = steps[i]!;
      let r: unknown;
      if (m.m !== 'raw' && m.m !== 'hello') {
        if (m.req === -2) {
          r = 1000 + i;
          expected.set(1000 + i, { step: i, unknownVerb: m.m === 'verb' && !VERBS.includes(m.t) });
        } else r = numeric(m.req);
      }
      const connOf = (ref: ConnRef): unknown => ('opened' in ref ? (opened[ref.opened] ?? 0x7fff_ffff) : numeric(ref.raw));
      let value: unknown;
      switch (m.m) {
        case 'raw':
          value = materialize(m.value);
          break;
        case 'hello': {
          const regions = Array.isArray(m.regions)
            ? m.regions.map((g) => ({ address: numeric(g.address), buffer: materialize(g.buffer), offset: numeric(g.offset), length: numeric(g.length) }))
            : materialize(m.regions);
          const d = Array.isArray(m.regions) ? m.regions[0]!.buffer : undefined;
          if (d?.k === 'sab' && d.size === SIZE) {
            guestRam = new RegionMemory();
            guestRam.addRegion(BASE, (regions as Array<{ buffer: SharedArrayBuffer }>)[0]!.buffer);
          }
          value = { t: 'hello', guest: 'hostile', regions, wake: materialize(m.wake) };
          break;
        }
        case 'ring': {
          const address = BASE + m.slot * 0x1000;
          let q: IoqDriverQueue | undefined;
          if (guestRam) q = new IoqDriverQueue(guestRam, address, 4, 'fuzz.ring');
          value = { t: 'shm', req: r, conn: connOf(m.conn), id: numeric(m.id), address, length: Ioq.byteLength(4), signalAddress: q?.signalAddress ?? address };
          break;
        }
        case 'devices':
          value = { t: 'devices', req: r };
          break;
        case 'open':
          value = { t: 'open', req: r, name: typeof m.name === 'string' ? m.name : materialize(m.name) };
          break;
        case 'call':
          value = { t: 'call', req: r, conn: connOf(m.conn), func: numeric(m.func), data: materialize(m.data) };
          break;
        case 'shm':
          value = {
            t: 'shm',
            req: r,
            conn: connOf(m.conn),
            id: numeric(m.id),
            address: numeric(m.address),
            length: numeric(m.length),
            signalAddress: m.signalAddress === null ? undefined : numeric(m.signalAddress),
          };
          break;
        case 'close':
          value = { t: 'close', req: r, conn: connOf(m.conn) };
          break;
        case 'verb':
          value = { t: m.t, req: r };
          break;
      }
      const t0 = performance.now();
      const sent = rig.send(value, via);
      const took = performance.now() - t0;
      check(took < SLOW_MS, `${where}: step ${i} (${m.m} via ${via}) held the event loop for ${took.toFixed(0)} ms`);
      if (!sent) expected.delete(r as number);
      if (!burst) {
        await turn();
        await turn();
        absorb();
        checkLimits(i);
      }
    }
    // every request with a fresh number is answered: bounded turns, or it is a hang
    for (let t = 0; ; t++) {
      await turn();
      absorb();
      if ([...expected.keys()].every((k) => answered.has(k))) break;
      if (t >= 200) {
        const missing = [...expected].filter(([k]) => !answered.has(k)).map(([k, e]) => `${k} (step ${e.step})`);
        throw new OracleFailure(`${where}: no reply within 200 turns to request(s) ${missing.join(', ')}`);
      }
    }
    checkLimits(steps.length);
    checkNoEscapes(where);
    for (const [k, n] of Object.entries(rig.guest.refused())) refusals[k] = (refusals[k] ?? 0) + n;
    for (const d of bus.introspect().devices) for (const [k, n] of Object.entries(d.refused)) refusals[`bus.${k}`] = (refusals[`bus.${k}`] ?? 0) + n;
    const failed = bus.status('venet0').state === 'failed' || bus.status('venet2').state === 'failed';
    await rig.exit();
    check(
      rig.guest.connections() === 0 && rig.guest.memoryBytes() === 0,
      `${where}: after exit the host still holds ${rig.guest.connections()} connections, ${rig.guest.memoryBytes()} bytes`,
    );
    for (const d of bus.introspect().devices)
      check(
        d.connections.every((k) => k.guest !== 'hostile'),
        `${where}: ${d.name} keeps connections of an exited guest`,
      );
    await checkHealthy(bus, 'venet1', healthy, where);
    checkNoEscapes(where);
    return failed ? 'failed' : progress ? 'progress' : 'refused';
  } finally {
    await rig.exit();
    dropBus(bus);
  }
}

export const controlTarget = target<ControlCase>({
  name: 'control',
  description: 'worker connector control channel: hostile message sequences, limits',
  arbitrary: () => controlArbitrary,
  run: runControl,
});
