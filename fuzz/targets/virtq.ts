/**
 * Targets "virtio-split" and "virtio-packed": a virtqueue's device half walking rings a driver
 * built (MockDriver: real SplitQueueDriver / PackedQueueDriver, buffers with readable and
 * writable segments, some in indirect tables), then corrupted: descriptor fields, the avail /
 * driver-event area, entries of existing indirect tables, and hand-made hostile indirect tables.
 * The device half runs over a RecordingMemory. Oracle: pops are bounded by the queue size; every
 * error is a RingError naming the queue and an index, and the queue stays failed (every later ring
 * operation repeats the same error); buffers are inside guest memory; an uncorrupted ring returns
 * every buffer with its bytes intact.
 */
import fc from 'fast-check';
import { RingError, VbusError } from '@vbus/core';
import {
  PackedQueueDevice,
  SplitQueueDevice,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_PACKED_DESC_F_AVAIL,
  VIRTQ_PACKED_DESC_F_USED,
  type VirtqueueDevice,
} from '@vbus/virtio-compat';
import { MockDriver, type RingKind } from '@vbus/virtio-compat/testing';
import { check, checkMemory, OracleFailure } from '../oracle.js';
import { RecordingMemory } from '../recording-memory.js';
import { target, type FuzzTarget, type Outcome } from '../target.js';
import { setU64, u16, u32 } from '../values.js';

const BASE = 0x10000;

export interface VqBuffer {
  readable: number[];
  writable: number[];
  indirect: boolean;
}
export interface VqEntry {
  addr: string;
  len: number;
  flags: number;
  next: number;
}
export type VqCorruption =
  | { kind: 'desc'; i: number; field: 'addr'; value: string }
  | { kind: 'desc'; i: number; field: 'len'; value: number }
  | { kind: 'desc'; i: number; field: 'w12' | 'w14'; value: number }
  | { kind: 'area'; area: 'driver' | 'device'; offset: number; value: number }
  /** Set NEXT on descriptor i (split) and point it at `next`: loops and long chains. */
  | { kind: 'link'; i: number; next: number }
  | { kind: 'indirectEntry'; table: number; entry: number; field: 'addr' | 'len' | 'w12' | 'w14'; value: string }
  | { kind: 'hostileTable'; entries: VqEntry[]; lenDelta: number; extraFlags: number };

export interface VqCase {
  size: number;
  indirect: boolean;
  eventIdx: boolean;
  /** Split only: VIRTIO_F_IN_ORDER on both halves (the device checks its own order and batches used elements). */
  inOrder?: boolean;
  buffers: VqBuffer[];
  corruptions: VqCorruption[];
}

const flags16 = fc.oneof(
  fc.constantFrom(0, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT),
  fc.constantFrom(
    VIRTQ_PACKED_DESC_F_AVAIL,
    VIRTQ_PACKED_DESC_F_USED,
    VIRTQ_PACKED_DESC_F_AVAIL | VIRTQ_PACKED_DESC_F_USED,
    VIRTQ_PACKED_DESC_F_AVAIL | VIRTQ_DESC_F_NEXT,
    VIRTQ_PACKED_DESC_F_AVAIL | VIRTQ_DESC_F_INDIRECT,
  ),
  u16(),
);
const addr = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: BASE, max: BASE + (1 << 20) }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('0', String(BASE - 1), String(2 ** 53), '18446744073709551615', String(BASE + (1 << 21))) },
  );
const entry: fc.Arbitrary<VqEntry> = fc.record({ addr: addr(), len: u32([16, 4096]), flags: flags16, next: u16() });

function corruption(size: number): fc.Arbitrary<VqCorruption> {
  return fc.oneof(
    fc.record({ kind: fc.constant('desc' as const), i: fc.nat({ max: size - 1 }), field: fc.constant('addr' as const), value: addr() }),
    fc.record({ kind: fc.constant('desc' as const), i: fc.nat({ max: size - 1 }), field: fc.constant('len' as const), value: u32([16, 32, 0x10_0000]) }),
    fc.record({
      kind: fc.constant('desc' as const),
      i: fc.nat({ max: size - 1 }),
      field: fc.constantFrom('w12' as const, 'w14' as const),
      value: fc.oneof(flags16, u16([size - 1, size])),
    }),
    fc.record({ kind: fc.constant('link' as const), i: fc.nat({ max: size - 1 }), next: fc.oneof(fc.nat({ max: size - 1 }), u16([size])) }),
    fc.record({
      kind: fc.constant('area' as const),
      area: fc.constantFrom('driver' as const, 'device' as const),
      offset: fc.nat({ max: 4 + 2 * size }),
      value: u16([size, size + 1]),
    }),
    fc.record({
      kind: fc.constant('indirectEntry' as const),
      table: fc.nat({ max: 3 }),
      entry: fc.nat({ max: 7 }),
      field: fc.constantFrom('addr' as const, 'len' as const, 'w12' as const, 'w14' as const),
      value: fc.oneof(addr(), u16().map(String)),
    }),
    fc.record({
      kind: fc.constant('hostileTable' as const),
      entries: fc.array(entry, { minLength: 1, maxLength: 6 }),
      lenDelta: fc.constantFrom(0, 0, 0, -16, 16, 1, -1),
      extraFlags: fc.constantFrom(0, 0, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE),
    }),
  );
}

export function vqArbitrary(kind: RingKind): fc.Arbitrary<VqCase> {
  const sizes = kind === 'split' ? fc.constantFrom(1, 2, 4, 8, 16) : fc.integer({ min: 1, max: 12 });
  return sizes.chain((size) =>
    fc.record({
      size: fc.constant(size),
      indirect: fc.boolean(),
      eventIdx: fc.boolean(),
      inOrder: fc.boolean().map((b) => b && kind === 'split'),
      buffers: fc.array(
        fc.record({
          readable: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 3 }),
          writable: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 3 }),
          indirect: fc.boolean(),
        }),
        { maxLength: size },
      ),
      corruptions: fc.oneof({ weight: 1, arbitrary: fc.constant([] as VqCorruption[]) }, { weight: 4, arbitrary: fc.array(corruption(size), { minLength: 1, maxLength: 3 }) }),
    }),
  );
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed * 7 + 1) & 0xff);
}

function applyCorruption(m: MockDriver<number>, kind: RingKind, c: VqCorruption, slotsUsed: number): void {
  const [[descAt], [drvAt, drvLen], [devAt, devLen]] = m.ringAreas() as [[number, number], [number, number], [number, number]];
  const dv = (a: number, n: number) => new DataView(m.memory.view(a, n).buffer, m.memory.view(a, n).byteOffset, n);
  const tables = (): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < m.size; i++) {
      const d = dv(descAt + i * VIRTQ_DESC_SIZE, VIRTQ_DESC_SIZE);
      const fl = d.getUint16(kind === 'split' ? 12 : 14, true);
      const a = Number(d.getBigUint64(0, true));
      const len = d.getUint32(8, true);
      if ((fl & VIRTQ_DESC_F_INDIRECT) !== 0 && len >= 16 && m.memory.contains(a, len)) out.push([a, len]);
    }
    return out;
  };
  switch (c.kind) {
    case 'desc': {
      const at = descAt + (c.i % m.size) * VIRTQ_DESC_SIZE;
      if (c.field === 'addr') setU64(m.memory.view(at, 8), 0, c.value);
      else if (c.field === 'len') dv(at + 8, 4).setUint32(0, c.value >>> 0, true);
      else dv(at + (c.field === 'w12' ? 12 : 14), 2).setUint16(0, c.value & 0xffff, true);
      break;
    }
    case 'link': {
      const at = descAt + (c.i % m.size) * VIRTQ_DESC_SIZE;
      const fl = dv(at + (kind === 'split' ? 12 : 14), 2);
      fl.setUint16(0, fl.getUint16(0, true) | VIRTQ_DESC_F_NEXT, true);
      if (kind === 'split') dv(at + 14, 2).setUint16(0, c.next & 0xffff, true);
      break;
    }
    case 'area': {
      const [a, n] = c.area === 'driver' ? [drvAt, drvLen] : [devAt, devLen];
      if (n < 2) break;
      const off = Math.min(c.offset & ~1, n - 2);
      dv(a + off, 2).setUint16(0, c.value & 0xffff, true);
      break;
    }
    case 'indirectEntry': {
      const t = tables();
      if (t.length === 0) break;
      const [ta, tl] = t[c.table % t.length]!;
      const at = ta + (c.entry % (tl / VIRTQ_DESC_SIZE)) * VIRTQ_DESC_SIZE;
      if (c.field === 'addr') setU64(m.memory.view(at, 8), 0, c.value);
      else if (c.field === 'len') dv(at + 8, 4).setUint32(0, Number(BigInt.asUintN(32, BigInt(c.value))), true);
      else dv(at + (c.field === 'w12' ? 12 : 14), 2).setUint16(0, Number(BigInt.asUintN(16, BigInt(c.value))), true);
      break;
    }
    case 'hostileTable': {
      const table = m.writeIndirectTable(
        c.entries.map((e) => ({ addr: Number(BigInt.asUintN(53, BigInt(e.addr))), len: e.len >>> 0, flags: e.flags & 0xffff, next: e.next & 0xffff })),
      );
      // addresses above 2^53 go in raw
      c.entries.forEach((e, k) => setU64(m.memory.view(table + k * VIRTQ_DESC_SIZE, 8), 0, e.addr));
      const len = Math.max(0, c.entries.length * VIRTQ_DESC_SIZE + c.lenDelta);
      if (kind === 'split') {
        const head = slotsUsed % m.size;
        m.writeDescriptor(head, { addr: table, len, flags: VIRTQ_DESC_F_INDIRECT | c.extraFlags, next: 0 });
        m.publish(head);
      } else if (slotsUsed < m.size) {
        m.writePackedDescriptor(slotsUsed, { addr: table, len, id: 0, flags: VIRTQ_DESC_F_INDIRECT | c.extraFlags | MockDriver.packedAvail(1) });
      }
      break;
    }
  }
}

export async function runVq(kind: RingKind, c: VqCase): Promise<Outcome> {
  const where = `virtio-${kind}(size ${c.size})`;
  const inOrder = kind === 'split' && c.inOrder === true;
  const m = new MockDriver<number>({ kind, size: c.size, indirect: c.indirect, eventIdx: c.eventIdx, inOrder, name: 'evil.q0', memorySize: 64 * c.size + 0x1000 + (1 << 20) });
  const rec = new RecordingMemory(m.memory);
  const common = { name: 'evil.q0', memory: rec, size: c.size, eventIdx: c.eventIdx, indirect: c.indirect, inOrder };
  const dev: VirtqueueDevice = kind === 'split' ? new SplitQueueDevice({ ...common, ...m.split, nextAvail: 0, nextUsed: 0 }) : new PackedQueueDevice({ ...common, ...m.packed });
  const added: Array<{ token: number; readable: Uint8Array; writable: number }> = [];
  let slotsUsed = 0;
  for (const [k, b] of c.buffers.entries()) {
    if (b.readable.length + b.writable.length === 0) continue;
    const useIndirect = b.indirect && c.indirect;
    const readable = b.readable.map((n, j) => pattern(n, k * 4 + j));
    if (!m.addBuffer(readable, b.writable, k, { indirect: useIndirect })) continue;
    slotsUsed += useIndirect ? 1 : b.readable.length + b.writable.length;
    const all = new Uint8Array(readable.reduce((s, r) => s + r.length, 0));
    let o = 0;
    for (const r of readable) (all.set(r, o), (o += r.length));
    added.push({ token: k, readable: all, writable: b.writable.reduce((s, n) => s + n, 0) });
  }
  for (const x of c.corruptions) applyCorruption(m, kind, x, slotsUsed);

  // the device walks the ring
  let pops = 0;
  let error: RingError | undefined;
  const seen = new Map<number, Uint8Array>();
  try {
    dev.disableNotification();
    for (;;) {
      const chain = dev.popChain();
      if (chain === null) break;
      check(++pops <= c.size, `${where}: hang: popped ${pops} chains from a ${c.size}-entry queue without adding any`);
      check(chain.length <= Math.max(c.size, 32768), `${where}: a ${chain.length}-descriptor chain`);
      check(chain.readableBytes + chain.writableBytes <= 0xffff_ffff, `${where}: chain total over 2^32`);
      for (let i = 0; i < chain.length; i++)
        check(
          chain.len(i) === 0 || rec.inside(chain.addr(i), chain.len(i)),
          `${where}: chain buffer ${i} at 0x${chain.addr(i).toString(16)}+${chain.len(i)} is outside guest memory`,
        );
      const data = chain.reader().readAll();
      seen.set(chain.id, data);
      const w = chain.writer();
      const out = pattern(Math.min(chain.writableBytes, 4096), chain.id);
      w.write(out);
      // with IN_ORDER batched: one element for the lot, written by needsNotification
      dev.addUsed(chain.id, w.written, inOrder);
    }
    dev.needsNotification();
    dev.enableNotification();
  } catch (e) {
    if (e instanceof OracleFailure) throw e;
    check(e instanceof RingError, `${where}: ${VbusError.is(e) ? 'a non-ring VbusError' : 'an untyped error'} escaped: ${e instanceof Error ? e.message : String(e)}`);
    error = e;
  }
  checkMemory(rec, where);
  if (error) {
    check(error.ring === 'evil.q0', `${where}: error names ring ${error.ring}`);
    check(/index (-1|\d+)|header/.test(error.message) && error.rule.length > 10, `${where}: error lacks index or rule: ${error.message}`);
    check(dev.failed && dev.error === error, `${where}: the queue is not failed with the error it threw`);
    let again: unknown;
    try {
      dev.popChain();
    } catch (e) {
      again = e;
    }
    check(again === error, `${where}: a failed queue did not repeat its error`);
    check(!dev.hasAvailable(), `${where}: a failed queue still reports buffers`);
    return 'failed';
  }
  if (c.corruptions.length === 0) {
    // nothing was corrupted: every buffer came back, read and written intact
    check(pops === added.length, `${where}: ${added.length} buffers added, ${pops} popped`);
    const back = new Set<number>();
    for (let u = m.getUsed(); u !== null; u = m.getUsed()) {
      const a = added.find((x) => x.token === u!.token)!;
      check(a !== undefined, `${where}: unknown token ${u.token} came back`);
      back.add(u.token);
      check(u.len === Math.min(a.writable, 4096), `${where}: used len ${u.len} for ${a.writable} writable bytes`);
    }
    check(back.size === added.length, `${where}: ${back.size} of ${added.length} buffers came back`);
    const datas = [...seen.values()];
    for (const a of added)
      check(
        datas.some((d) => Buffer.compare(d, a.readable) === 0),
        `${where}: readable bytes of buffer ${a.token} were not read intact`,
      );
  }
  return 'progress';
}

export const virtioSplitTarget: FuzzTarget = target<VqCase>({
  name: 'virtio-split',
  description: 'virtio split ring: descriptor table, avail ring, indirect tables (device half)',
  arbitrary: () => vqArbitrary('split'),
  run: (c) => runVq('split', c),
});

export const virtioPackedTarget: FuzzTarget = target<VqCase>({
  name: 'virtio-packed',
  description: 'virtio packed ring: descriptors with AVAIL/USED bits and ids, event areas, indirect tables (device half)',
  arbitrary: () => vqArbitrary('packed'),
  run: (c) => runVq('packed', c),
});
