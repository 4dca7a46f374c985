/**
 * Target "ioq": the IOQ ring header, indices, descriptors and embedded signal, walked by a real
 * device (venet, plain frames; rx, tx or the event ring with LINKSTATE and TXC events) on a bus. A nearly valid ring (frames posted on tx, buffers on
 * rx) is corrupted either before the guest registers it (the `shm` verb must refuse it with a
 * typed error) or while the link is up (the device must fail with a RingError naming the ring).
 */
import fc from 'fast-check';
import {
  IOQ_DESC_COOKIE,
  IOQ_DESC_LEN,
  IOQ_DESC_PTR,
  IOQ_DESC_SIZE,
  IOQ_DESC_SOWN,
  IOQ_DESC_VALID,
  IOQ_HEADER_SIZE,
  IOQ_IDX_FULL,
  IOQ_IDX_HEAD,
  IOQ_IDX_TAIL,
  IOQ_OFF_COUNT,
  IOQ_OFF_IDX_INUSE,
  IOQ_OFF_IDX_VALID,
  IOQ_OFF_MAGIC,
  IOQ_OFF_SIGNAL,
  IOQ_OFF_VERSION,
  SHM_SIGNAL_OFF_SIDES,
  SHM_SIGNAL_SIDE_SIZE,
  type IoqDriverQueue,
  type RegionMemory,
} from '@vbus/core';
import type { VenetDevice } from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { check, checkMemory, checkNamedError, checkNoEscapes, settleQuiet, tolerate } from '../oracle.js';
import { checkHealthy, dropBus, frame, freshBus, openHealthy, openRawVenet } from '../harness/venet.js';
import { target, type Outcome } from '../target.js';
import { setU64, u32, u64 } from '../values.js';

export type IoqCorruption =
  | { kind: 'header'; field: 'magic' | 'version' | 'count'; value: number }
  | { kind: 'index'; index: 0 | 1; field: 'head' | 'tail' | 'full'; value: number }
  | { kind: 'desc'; slot: number; field: 'cookie' | 'ptr' | 'len'; value: string }
  | { kind: 'descFlag'; slot: number; field: 'valid' | 'sown'; value: number }
  | { kind: 'signal'; side: 0 | 1; word: 0 | 1 | 2; value: number }
  | { kind: 'byte'; offset: number; value: number };

export interface IoqCase {
  /** The ring corrupted; `evq` also negotiates the event queue (LINKSTATE and TXC events). */
  ring: 'rx' | 'tx' | 'evq';
  ringSize: number;
  /** Frames posted on tx before the corruption. */
  frames: number[];
  /** Corrupt before `shm` (registration) or while the link is up. */
  when: 'register' | 'live';
  corruptions: IoqCorruption[];
  /** Frames the backend sends toward the guest afterwards (the rx path). */
  inject: number;
}

const corruption = (ringSize: number): fc.Arbitrary<IoqCorruption> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('header' as const),
      field: fc.constantFrom('magic' as const, 'version' as const, 'count' as const),
      value: u32([ringSize - 1, ringSize, ringSize + 1, 2048, 2049]),
    }),
    fc.record({
      kind: fc.constant('index' as const),
      index: fc.constantFrom(0 as const, 1 as const),
      field: fc.constantFrom('head' as const, 'tail' as const, 'full' as const),
      value: u32([ringSize - 1, ringSize]),
    }),
    fc.record({ kind: fc.constant('desc' as const), slot: fc.nat({ max: ringSize - 1 }), field: fc.constantFrom('cookie' as const, 'ptr' as const, 'len' as const), value: u64() }),
    fc.record({
      kind: fc.constant('descFlag' as const),
      slot: fc.nat({ max: ringSize - 1 }),
      field: fc.constantFrom('valid' as const, 'sown' as const),
      value: fc.constantFrom(0, 1, 2, 255),
    }),
    fc.record({ kind: fc.constant('signal' as const), side: fc.constantFrom(0 as const, 1 as const), word: fc.constantFrom(0 as const, 1 as const, 2 as const), value: u32() }),
    fc.record({ kind: fc.constant('byte' as const), offset: fc.nat({ max: IOQ_HEADER_SIZE + ringSize * IOQ_DESC_SIZE - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
  );

export const ioqArbitrary: fc.Arbitrary<IoqCase> = fc.integer({ min: 1, max: 8 }).chain((ringSize) =>
  fc.record({
    ring: fc.constantFrom('rx' as const, 'tx' as const, 'evq' as const),
    ringSize: fc.constant(ringSize),
    frames: fc.array(fc.integer({ min: 14, max: 1518 }), { maxLength: ringSize }),
    when: fc.constantFrom('register' as const, 'live' as const, 'live' as const),
    corruptions: fc.array(corruption(ringSize), { minLength: 1, maxLength: 4 }),
    inject: fc.nat({ max: 4 }),
  }),
);

function u32At(raw: RegionMemory, address: number, value: number): void {
  new DataView(raw.view(address, 4).buffer, raw.view(address, 4).byteOffset, 4).setUint32(0, value >>> 0, true);
}

/** Apply corruptions to ring `q` through the raw (unrecorded) memory. */
export function corruptIoq(raw: RegionMemory, q: IoqDriverQueue, list: readonly IoqCorruption[]): void {
  const base = q.ioq.address;
  const n = q.count;
  for (const c of list) {
    switch (c.kind) {
      case 'header':
        u32At(raw, base + { magic: IOQ_OFF_MAGIC, version: IOQ_OFF_VERSION, count: IOQ_OFF_COUNT }[c.field], c.value);
        break;
      case 'index':
        u32At(raw, base + (c.index === 0 ? IOQ_OFF_IDX_VALID : IOQ_OFF_IDX_INUSE) + { head: IOQ_IDX_HEAD, tail: IOQ_IDX_TAIL, full: IOQ_IDX_FULL }[c.field], c.value);
        break;
      case 'desc':
        setU64(raw.view(base + IOQ_HEADER_SIZE + (c.slot % n) * IOQ_DESC_SIZE + { cookie: IOQ_DESC_COOKIE, ptr: IOQ_DESC_PTR, len: IOQ_DESC_LEN }[c.field], 8), 0, c.value);
        break;
      case 'descFlag':
        raw.view(base + IOQ_HEADER_SIZE + (c.slot % n) * IOQ_DESC_SIZE + (c.field === 'valid' ? IOQ_DESC_VALID : IOQ_DESC_SOWN), 1)[0] = c.value;
        break;
      case 'signal':
        u32At(raw, base + IOQ_OFF_SIGNAL + SHM_SIGNAL_OFF_SIDES + c.side * SHM_SIGNAL_SIDE_SIZE + 4 * c.word, c.value);
        break;
      case 'byte':
        raw.view(base + (c.offset % (IOQ_HEADER_SIZE + n * IOQ_DESC_SIZE)), 1)[0] = c.value;
        break;
    }
  }
}

export async function runIoq(c: IoqCase): Promise<Outcome> {
  const bus = freshBus();
  const where = `ioq(${c.ring}, ${c.when})`;
  try {
    const evil = new CaptureBackend();
    bus.createDevice('virtual-ethernet', 'venet0', { backend: evil, ringSize: 8 });
    const healthy = await openHealthy(bus, 'venet1');
    let g: Awaited<ReturnType<typeof openRawVenet>> | undefined;
    const refused = await tolerate(`${where} setup`, async () => {
      g = await openRawVenet(bus, 'venet0', {
        sg: 0,
        ringSize: c.ringSize,
        evq: c.ring === 'evq',
        beforeShm: c.when === 'register' ? ({ raw, rx, tx, evq }) => corruptIoq(raw, c.ring === 'rx' ? rx : c.ring === 'tx' ? tx : evq!, c.corruptions) : undefined,
      });
    });
    let outcome: Outcome = 'refused';
    if (!refused && g) {
      const guest = g;
      // the guest's own driver may trip over the corrupted ring: that is the guest's problem,
      // but it must be a typed error too
      await tolerate(`${where} guest post`, () =>
        c.frames.forEach((len, i) => {
          guest.raw.view(guest.txBuffers[i]!, len).set(frame(i, Math.max(14, len)).subarray(0, len));
          guest.tx.post(guest.txBuffers[i]!, len, i);
        }),
      );
      if (c.when === 'live') corruptIoq(guest.raw, c.ring === 'rx' ? guest.rx : c.ring === 'tx' ? guest.tx : guest.evq!, c.corruptions);
      await tolerate(`${where} guest kick`, () => guest.tx.kick());
      for (let i = 0; i < c.inject; i++) evil.inject(frame(100 + i));
      await settleQuiet([guest.mem], where);
      checkMemory(guest.mem, where);
      const st = bus.status('venet0');
      if (st.state === 'failed') {
        checkNamedError(st.error, /ring venet0\.(rx|tx|evq)/, where);
        check(guest.conn.closed, `${where}: the failed device's connection is still open`);
        outcome = 'failed';
      } else {
        // valid progress: every frame the backend got is a plain frame the guest posted
        for (const f of evil.frames) check(f.frame.length >= 14 && f.frame.length <= 1518, `${where}: a ${f.frame.length}-byte frame left the device`);
        const dev = bus.device<VenetDevice>('venet0');
        check(dev.stats.tx.frames === evil.frames.length, `${where}: tx counter ${dev.stats.tx.frames} != frames sent ${evil.frames.length}`);
        outcome = 'progress';
      }
    }
    checkNoEscapes(where);
    checkMemory(healthy.mem, where);
    await checkHealthy(bus, 'venet1', healthy, where);
    return outcome;
  } finally {
    dropBus(bus);
  }
}

export const ioqTarget = target<IoqCase>({
  name: 'ioq',
  description: 'IOQ header, indices, descriptors and signal words, walked by a venet device',
  arbitrary: () => ioqArbitrary,
  run: runIoq,
});
