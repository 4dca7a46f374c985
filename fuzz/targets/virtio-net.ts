/**
 * Target "virtio-net": the virtio-net device on a bus, driven by a hostile guest that first sets
 * up properly (VirtioNetDriver, split or packed rings, control queue), then sends transmit chains
 * whose 12-byte net header has random flags, GSO type, lengths and checksum offsets, whose frame
 * is any length and whose segments are cut anywhere (readable and writable parts); control
 * commands with random class, command and data, and raw control chains of odd shapes (no ack
 * buffer, a short header, readable-only); and frames from the backend in between. Oracle: no
 * escapes; the connection stays live with valid progress or sets DEVICE_NEEDS_RESET with a
 * RingError naming the queue; the bus device itself stays ready; memory stays inside the guest's
 * regions; a healthy virtio-net on the same bus still moves frames.
 */
import fc from 'fast-check';
import { GuestAllocator, InProcessConnector, RegionMemory, createVbus, type Bus, type ShmSignal, type Vbus } from '@vbus/core';
import {
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_MAX_FRAME,
  VirtioNetDriver,
  virtioNetModule,
  type Segment,
  type VirtioNetHeader,
  type VirtqueueDriver,
} from '@vbus/virtio-compat';
import { CaptureBackend } from '@vbus/net/testing';
import { check, checkMemory, checkNamedError, checkNoEscapes, settleQuiet, tolerate } from '../oracle.js';
import { RecordingMemory } from '../recording-memory.js';
import { target, type Outcome } from '../target.js';
import { bytes, u16 } from '../values.js';
import { SEND_MORE, SEND_NOW } from '@vbus/net';

/** The fields of the 12-byte net header the hostile guest writes. */
export type NetHeader = VirtioNetHeader;
export type NetOp =
  | { op: 'tx'; hdr: NetHeader; frameLen: number; cuts: number[]; writableTail: number }
  | { op: 'ctrl'; cls: number; cmd: number; data: number[] }
  | { op: 'ctrlRaw'; head: number[]; ackLen: number; split: boolean }
  | { op: 'inject'; n: number; broadcast: boolean }
  /** Raw u16 write into the tx queue's descriptor area or driver area, then a kick. */
  | { op: 'ringPoke'; area: 'desc' | 'driver'; offset: number; value: number };

export interface VirtioNetCase {
  ring: 'split' | 'packed';
  ops: NetOp[];
}

const header: fc.Arbitrary<NetHeader> = fc.record({
  flags: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: 0, max: 255 })),
  gsoType: fc.oneof(fc.constantFrom(0, 1, 3, 4, 0x80, 0x81), fc.integer({ min: 0, max: 255 })),
  hdrLen: u16([14, 54]),
  gsoSize: u16([1448]),
  csumStart: u16([14, 34, 1500]),
  csumOffset: u16([6, 16]),
  numBuffers: u16([1]),
});

const op: fc.Arbitrary<NetOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tx' as const),
      hdr: header,
      frameLen: fc.oneof(fc.integer({ min: 0, max: 1600 }), fc.constantFrom(0, 13, 14, 1514, 1518, 2036)),
      cuts: fc.array(fc.nat({ max: 2048 }), { maxLength: 4 }),
      writableTail: fc.constantFrom(0, 0, 0, 1, 64),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('ctrl' as const),
      cls: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 255 })),
      cmd: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 255 })),
      data: bytes(40),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ctrlRaw' as const), head: bytes(4), ackLen: fc.constantFrom(0, 1, 2), split: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('inject' as const), n: fc.integer({ min: 1, max: 3 }), broadcast: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('ringPoke' as const),
      area: fc.constantFrom('desc' as const, 'driver' as const),
      offset: fc.nat({ max: 16 * 16 - 2 }),
      value: u16([16, 17]),
    }),
  },
);

export const virtioNetArbitrary: fc.Arbitrary<VirtioNetCase> = fc.record({
  ring: fc.constantFrom('split' as const, 'packed' as const),
  ops: fc.array(op, { minLength: 1, maxLength: 8 }),
});

interface Queue {
  vq: VirtqueueDriver<number>;
  signal: ShmSignal;
  buffers: number[];
  bufferSize: number;
  /** The driver's FreeBuffers (first in, first out). */
  free: { take(): number | undefined; push(i: number): void };
}
interface DriverInternals {
  tx: Queue[];
  ctrl: Queue | undefined;
}

let vbus: Vbus | undefined;
let seq = 0;
function virtioBus(): Bus {
  vbus ??= createVbus({ modules: [virtioNetModule] }).vbus;
  return vbus.createBus(`vfuzz${seq++}`);
}

const MEM = 0x10000;
const MEM_BYTES = 2 << 20;

async function openGuest(bus: Bus, name: string, ring: 'split' | 'packed', guest: string): Promise<{ d: VirtioNetDriver; mem: RecordingMemory; raw: RegionMemory }> {
  const raw = RegionMemory.create(MEM, MEM_BYTES);
  const mem = new RecordingMemory(raw);
  const conn = new InProcessConnector(bus, mem, { guest }).open(name);
  const d = await VirtioNetDriver.open(conn, new GuestAllocator(MEM, MEM_BYTES), { ring, queueSize: 16 });
  return { d, mem, raw };
}

function ethFrame(len: number, dst: number[], seqNo: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst.slice(0, Math.min(6, len)), 0);
  if (len >= 12) f.set([0x52, 0x54, 0, 0, 0, 0xaa], 6);
  if (len >= 14) ((f[12] = 0x88), (f[13] = 0xb5));
  if (len > 14) f[14] = seqNo & 0xff;
  return f;
}

export async function runVirtioNet(c: VirtioNetCase): Promise<Outcome> {
  const bus = virtioBus();
  const where = `virtio-net(${c.ring})`;
  try {
    const evil = new CaptureBackend();
    const good = new CaptureBackend();
    bus.createDevice('virtio-net', 'bad0', { mac: '52:54:00:00:00:0b', backend: evil });
    bus.createDevice('virtio-net', 'good0', { mac: '52:54:00:00:00:0c', backend: good });
    const healthy = await openGuest(bus, 'good0', 'split', 'healthy');
    const { d, mem, raw } = await openGuest(bus, 'bad0', c.ring, 'hostile');
    let needsReset = false;
    d.onConfigChange = (s) => (needsReset ||= s.needsReset);
    let closeReason = '';
    d.conn.once('close', (r) => (closeReason = r));
    const inner = d as unknown as DriverInternals;
    const txq = inner.tx[0]!;
    let posted = 0;
    for (const [k, o] of c.ops.entries()) {
      const at = `${where} op ${k} (${o.op})`;
      if (needsReset || d.conn.closed) break;
      switch (o.op) {
        case 'tx': {
          const i = txq.free.take();
          if (i === undefined) break;
          const addr = txq.buffers[i]!;
          const total = Math.min(VIRTIO_NET_HDR_SIZE + o.frameLen, txq.bufferSize);
          const b = raw.view(addr, txq.bufferSize);
          const h = new DataView(b.buffer, b.byteOffset, VIRTIO_NET_HDR_SIZE);
          h.setUint8(0, o.hdr.flags);
          h.setUint8(1, o.hdr.gsoType);
          h.setUint16(2, o.hdr.hdrLen, true);
          h.setUint16(4, o.hdr.gsoSize, true);
          h.setUint16(6, o.hdr.csumStart, true);
          h.setUint16(8, o.hdr.csumOffset, true);
          h.setUint16(10, o.hdr.numBuffers, true);
          if (total > VIRTIO_NET_HDR_SIZE) b.set(ethFrame(total - VIRTIO_NET_HDR_SIZE, [0x52, 0x54, 0, 0, 0, 0x0c], k), VIRTIO_NET_HDR_SIZE);
          // cut [0, total) into readable segments at the case's cut points
          const cuts = [...new Set(o.cuts.map((x) => x % Math.max(1, total)).filter((x) => x > 0))].sort((a, z) => a - z);
          const readable: Segment[] = [];
          let from = 0;
          for (const x of [...cuts, total]) if (x > from) (readable.push({ addr: addr + from, len: x - from }), (from = x));
          if (readable.length === 0) readable.push({ addr, len: total });
          const writable: Segment[] = o.writableTail > 0 ? [{ addr: addr + txq.bufferSize - o.writableTail, len: o.writableTail }] : [];
          let added = false;
          const err = await tolerate(at, () => {
            added = txq.vq.add(readable, writable, i); // false: multi-segment chains filled the ring
          });
          if (err || !added) {
            txq.free.push(i);
            break;
          }
          posted++;
          txq.signal.inject();
          break;
        }
        case 'ctrl': {
          // the command resolves with the ack, or never if the device stops: bounded wait
          let ack: number | undefined;
          const p = d.command(o.cls, o.cmd, Uint8Array.from(o.data)).then(
            (a) => (ack = a),
            (e) => void tolerate(at, () => Promise.reject(e)),
          );
          void p;
          await settleQuiet([mem], at, { until: () => ack !== undefined || needsReset });
          if (ack !== undefined) check(ack === 0 || ack === 1, `${at}: ack ${ack} is neither OK nor ERR`);
          break;
        }
        case 'ctrlRaw': {
          const q = inner.ctrl;
          if (!q) break;
          const i = q.free.take();
          if (i === undefined) break;
          const addr = q.buffers[i]!;
          raw.view(addr, 8).set(o.head.slice(0, 8));
          const readable: Segment[] =
            o.head.length === 0
              ? []
              : o.split && o.head.length > 1
                ? [
                    { addr, len: 1 },
                    { addr: addr + 1, len: o.head.length - 1 },
                  ]
                : [{ addr, len: o.head.length }];
          const writable: Segment[] = o.ackLen > 0 ? [{ addr: addr + 32, len: o.ackLen }] : [];
          if (readable.length + writable.length === 0) {
            q.free.push(i);
            break;
          }
          const err = await tolerate(at, () => q.vq.add(readable, writable, i));
          if (err) q.free.push(i);
          else q.signal.inject();
          break;
        }
        case 'ringPoke': {
          const a = (txq.vq as unknown as { addresses: Record<string, number> }).addresses;
          const base = c.ring === 'split' ? (o.area === 'desc' ? a.descTable! : a.availRing!) : o.area === 'desc' ? a.descRing! : a.driverEvent!;
          const span = o.area === 'desc' ? 16 * 16 : c.ring === 'split' ? 6 + 2 * 16 : 4;
          const off = Math.min(o.offset & ~1, span - 2);
          const v = raw.view(base + off, 2);
          new DataView(v.buffer, v.byteOffset, 2).setUint16(0, o.value, true);
          txq.signal.inject();
          break;
        }
        case 'inject':
          for (let n = 0; n < o.n; n++) evil.inject(ethFrame(60, o.broadcast ? [255, 255, 255, 255, 255, 255] : [0x52, 0x54, 0, 0, 0, 0x0b], n));
          break;
      }
      await settleQuiet([mem], at, { quiet: 1 });
    }
    await settleQuiet([mem], where);
    checkMemory(mem, where);
    checkNoEscapes(where);
    check(bus.status('bad0').state === 'ready', `${where}: a ring fault failed the whole device instead of the connection`);
    let outcome: Outcome;
    const status = d.conn.closed ? 0 : await d.transport.getStatus();
    if (d.conn.closed) {
      // the hostile guest's own driver tripped over the ring it corrupted (the packed ring is
      // shared both ways) and closed its connection: that is the guest's business
      check(/guest signal handler|closed by guest/.test(closeReason), `${where}: the connection closed: ${closeReason}`);
      outcome = 'refused';
    } else if ((status & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET) !== 0) {
      const text = await d.transport.error();
      checkNamedError({ message: text } as never, /bad0\.(rx0|tx0|ctrl)/, where);
      outcome = 'failed';
    } else {
      for (const f of evil.frames) check(f.frame.length >= 14 && f.frame.length <= VIRTIO_NET_MAX_FRAME, `${where}: a ${f.frame.length}-byte frame left the device`);
      // with raw ring pokes the guest may legitimately make stale descriptors available again
      if (!c.ops.some((o) => o.op === 'ringPoke')) check(evil.frames.length <= posted, `${where}: ${evil.frames.length} frames sent for ${posted} posted`);
      outcome = 'progress';
    }
    // the healthy neighbour moves frames both ways
    let got = 0;
    healthy.d.onFrame = () => got++;
    const before = good.frames.length;
    for (let i = 0; i < 4; i++) healthy.d.send(ethFrame(60, [2, 0, 0, 0, 0, 9], i), i < 3 ? SEND_MORE : SEND_NOW);
    for (let i = 0; i < 4; i++) good.inject(ethFrame(60, [0x52, 0x54, 0, 0, 0, 0x0c], i));
    await settleQuiet([healthy.mem], `${where} (healthy neighbour)`, { until: () => got === 4 && good.frames.length - before === 4 });
    check(good.frames.length - before === 4 && got === 4, `${where}: the healthy neighbour moved ${good.frames.length - before}/4 out, ${got}/4 in`);
    checkMemory(healthy.mem, where);
    return outcome;
  } finally {
    vbus?.destroyBus(bus.name);
  }
}

export const virtioNetTarget = target<VirtioNetCase>({
  name: 'virtio-net',
  description: 'virtio-net header on transmit chains and the control queue, split and packed rings, on a bus',
  arbitrary: () => virtioNetArbitrary,
  run: runVirtioNet,
});
