/**
 * Target "venet-calls": the venet `call` and `shm` verbs in random order: known function numbers
 * with nearly valid arguments (NEGCAP, PMTDQUERY, EVQQUERY records with mutated fields), random
 * function numbers with random bytes, ring registrations with odd ids, addresses and lengths,
 * and traffic in between. Oracle: every verb resolves or rejects with a VbusError; the device
 * stays ready or fails with a named error; memory and the healthy neighbour as everywhere.
 */
import fc from 'fast-check';
import { Ioq, IoqDriverQueue, le } from '@vbus/core';
import { VENET_CAPS_SIZE, VENET_EVQ_QUERY_SIZE, VENET_FUNC_EVQQUERY, VENET_FUNC_NEGCAP, VENET_FUNC_PMTDQUERY, VENET_PMTD_QUERY_SIZE, type VenetDevice } from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { InProcessConnector } from '@vbus/core';
import { check, checkMemory, checkNamedError, checkNoEscapes, settleQuiet, tolerate } from '../oracle.js';
import { checkHealthy, dropBus, frame, freshBus, guestMemory, openHealthy } from '../harness/venet.js';
import { target, type Outcome } from '../target.js';
import { address, bytes, setU64, u32 } from '../values.js';

export type VenetOp =
  | { op: 'call'; func: number; data: number[] }
  | { op: 'negcap'; gid: number; bits: number; size: number }
  | { op: 'pmtd'; pool: string; len: number; size: number }
  | { op: 'evqquery'; flags: number; evsize: number; qid: number; size: number }
  | { op: 'shm'; id: number; ringSize: number; addrDelta: number; lenDelta: number; signal: boolean }
  | { op: 'post'; queue: number; n: number }
  | { op: 'inject'; n: number };

export interface VenetCallsCase {
  ops: VenetOp[];
}

const size = (n: number) => fc.oneof({ weight: 4, arbitrary: fc.constant(n) }, { weight: 1, arbitrary: fc.constantFrom(0, n - 1, n + 1, 64) });

const op: fc.Arbitrary<VenetOp> = fc.oneof(
  fc.record({ op: fc.constant('call' as const), func: fc.oneof(fc.integer({ min: 0, max: 9 }), u32()), data: bytes(24) }),
  fc.record({ op: fc.constant('negcap' as const), gid: fc.oneof(fc.integer({ min: 0, max: 3 }), u32()), bits: u32([0x3f, 0x21, 0x03]), size: size(VENET_CAPS_SIZE) }),
  fc.record({ op: fc.constant('pmtd' as const), pool: address(), len: u32([4096, 8192, 96]), size: size(VENET_PMTD_QUERY_SIZE) }),
  fc.record({
    op: fc.constant('evqquery' as const),
    flags: fc.oneof(fc.constant(0), u32()),
    evsize: u32([24, 32, 4096, 4097]),
    qid: fc.oneof(fc.constant(2), u32()),
    size: size(VENET_EVQ_QUERY_SIZE),
  }),
  fc.record({
    op: fc.constant('shm' as const),
    id: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: u32() }),
    ringSize: fc.constantFrom(1, 4, 8, 512),
    addrDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -64, max: 64 }) }),
    lenDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -64, max: 1 << 21 }) }),
    signal: fc.boolean(),
  }),
  fc.record({ op: fc.constant('post' as const), queue: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('inject' as const), n: fc.integer({ min: 1, max: 3 }) }),
);

export const venetCallsArbitrary: fc.Arbitrary<VenetCallsCase> = fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 12 }) });

export async function runVenetCalls(c: VenetCallsCase): Promise<Outcome> {
  const bus = freshBus();
  const where = 'venet-calls';
  try {
    const evil = new CaptureBackend();
    bus.createDevice('virtual-ethernet', 'venet0', { backend: evil, ringSize: 8 });
    const healthy = await openHealthy(bus, 'venet1');
    const { raw, mem, alloc } = guestMemory();
    const conn = new InProcessConnector(bus, mem, { guest: 'hostile' }).open('venet0');
    const rings = new Map<number, IoqDriverQueue>();
    let refused = 0;
    for (const [k, o] of c.ops.entries()) {
      const at = `${where} op ${k} (${o.op})`;
      let r: unknown;
      switch (o.op) {
        case 'call':
          r = await tolerate(at, () => conn.call(o.func, Uint8Array.from(o.data)));
          break;
        case 'negcap': {
          const a = new Uint8Array(o.size);
          if (o.size >= 8) (le.setU32(a, 0, o.gid >>> 0), le.setU32(a, 4, o.bits >>> 0));
          r = await tolerate(at, () => conn.call(VENET_FUNC_NEGCAP, a));
          break;
        }
        case 'pmtd': {
          const a = new Uint8Array(o.size);
          if (o.size >= 16) (setU64(a, 0, o.pool), le.setU32(a, 8, o.len >>> 0));
          r = await tolerate(at, () => conn.call(VENET_FUNC_PMTDQUERY, a));
          break;
        }
        case 'evqquery': {
          const a = new Uint8Array(o.size);
          if (o.size >= 12) (le.setU32(a, 0, o.flags >>> 0), le.setU32(a, 4, o.evsize >>> 0), le.setU32(a, 8, o.qid >>> 0));
          r = await tolerate(at, () => conn.call(VENET_FUNC_EVQQUERY, a));
          break;
        }
        case 'shm': {
          const q = new IoqDriverQueue(raw, alloc.alloc(Ioq.byteLength(o.ringSize), 64), o.ringSize, `venet0.q${o.id}`);
          for (let i = 0; i < o.ringSize && i < 8; i++) q.post(alloc.alloc(2048, 64), 2048, i);
          r = await tolerate(at, async () => {
            const s = await conn.shm(o.id, q.ioq.address + o.addrDelta, q.byteLength + o.lenDelta, o.signal ? q.signalAddress : undefined);
            if (s) {
              q.signal = s;
              s.handler = () => {};
              rings.set(o.id, q);
            }
          });
          break;
        }
        case 'post': {
          const q = rings.get(o.queue);
          if (q)
            r = await tolerate(at, () => {
              for (let i = 0; i < o.n && q.canPost; i++) {
                const b = alloc.alloc(64, 64);
                raw.view(b, 64).set(frame(i));
                q.post(b, 64, i);
              }
              q.kick();
            });
          break;
        }
        case 'inject':
          for (let i = 0; i < o.n; i++) evil.inject(frame(i));
          break;
      }
      if (r !== undefined) refused++;
      await settleQuiet([mem], at, { quiet: 1 });
    }
    checkMemory(mem, where);
    checkNoEscapes(where);
    const st = bus.status('venet0');
    let outcome: Outcome = refused > 0 ? 'refused' : 'progress';
    if (st.state === 'failed') {
      checkNamedError(st.error, /ring venet0\.(rx|tx|evq)/, where);
      outcome = 'failed';
    } else {
      const dev = bus.device<VenetDevice>('venet0');
      check(dev.stats.tx.frames === evil.frames.length, `${where}: tx counter ${dev.stats.tx.frames} != frames sent ${evil.frames.length}`);
    }
    await tolerate(`${where} close`, () => conn.close());
    await checkHealthy(bus, 'venet1', healthy, where);
    return outcome;
  } finally {
    dropBus(bus);
  }
}

export const venetCallsTarget = target<VenetCallsCase>({
  name: 'venet-calls',
  description: 'venet call and shm verbs: random function numbers, argument bytes and registrations, in random order',
  arbitrary: () => venetCallsArbitrary,
  run: runVenetCalls,
});
