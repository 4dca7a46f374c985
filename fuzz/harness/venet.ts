/**
 * Shared setup of the venet targets: a bus with a hostile venet device and a healthy one, a raw
 * guest (rings formatted by IoqDriverQueue, calls made by hand, so the fuzz case decides every
 * byte) over a RecordingMemory, and the healthy-neighbour check.
 */
import { GuestAllocator, InProcessConnector, Ioq, IoqDriverQueue, RegionMemory, createVbus, le, type Bus, type GuestConnection, type Vbus } from '@vbus/core';
import {
  VENET_CAPS_OFF_BITS,
  VENET_CAPS_OFF_GID,
  VENET_CAPS_SIZE,
  VENET_CAP_EVQ_LINKSTATE,
  VENET_CAP_EVQ_TXC,
  VENET_CAP_GROUP_EVENTQ,
  VENET_CAP_GROUP_SG,
  VENET_EVQ_QUERY_SIZE,
  VENET_FUNC_EVQQUERY,
  VENET_QUEUE_EVQ,
  VENET_FUNC_LINKUP,
  VENET_FUNC_NEGCAP,
  VENET_FUNC_PMTDQUERY,
  VENET_PMTD_OFF_LEN,
  VENET_PMTD_OFF_POOL,
  VENET_PMTD_QUERY_SIZE,
  VENET_QUEUE_RX,
  VENET_QUEUE_TX,
  VenetDriver,
  venetModule,
} from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { check, settleQuiet } from '../oracle.js';
import { RecordingMemory } from '../recording-memory.js';
import { SEND_MORE, SEND_NOW } from '@vbus/net';

export const GUEST_BASE = 0x10000;
export const GUEST_BYTES = 1 << 20;
/** A second region of the hostile guest, so that "between regions" addresses exist. */
export const GUEST_BASE2 = 0x20_0000;
export const GUEST_BYTES2 = 0x1_0000;

let vbus: Vbus | undefined;
let busSeq = 0;

/** A fresh bus (the Vbus and its container are made once per process). */
export function freshBus(): Bus {
  vbus ??= createVbus({ modules: [venetModule] }).vbus;
  const name = `fuzz${busSeq++}`;
  return vbus.createBus(name);
}
export function dropBus(bus: Bus): void {
  vbus?.destroyBus(bus.name);
}

export interface RawVenetGuest {
  conn: GuestConnection;
  raw: RegionMemory;
  mem: RecordingMemory;
  alloc: GuestAllocator;
  rx: IoqDriverQueue;
  tx: IoqDriverQueue;
  rxBuffers: number[];
  txBuffers: number[];
  pool?: { address: number; length: number };
  /** The event ring, when opened with `evq`. */
  evq?: IoqDriverQueue;
}

/** A guest memory of two regions (the second one small), with a recording wrapper. */
export function guestMemory(): { raw: RegionMemory; mem: RecordingMemory; alloc: GuestAllocator } {
  const raw = RegionMemory.create(GUEST_BASE, GUEST_BYTES);
  raw.addRegion(GUEST_BASE2, new SharedArrayBuffer(GUEST_BYTES2));
  return { raw, mem: new RecordingMemory(raw), alloc: new GuestAllocator(GUEST_BASE, GUEST_BYTES) };
}

async function negotiate(conn: GuestConnection, gid: number, bits: number): Promise<number> {
  const a = new Uint8Array(VENET_CAPS_SIZE);
  le.setU32(a, VENET_CAPS_OFF_GID, gid);
  le.setU32(a, VENET_CAPS_OFF_BITS, bits);
  return le.getU32(await conn.call(VENET_FUNC_NEGCAP, a), VENET_CAPS_OFF_BITS);
}

/**
 * Open `device` as a raw guest: negotiate SG bits `sg`, register rx and tx rings of `ringSize`,
 * post every rx buffer, announce a PMTD pool if `pmtd`, bring the link up.
 */
export async function openRawVenet(
  bus: Bus,
  device: string,
  opts: {
    sg: number;
    pmtd?: boolean;
    ringSize: number;
    /** Also negotiate the event queue (LINKSTATE and TXC) and register an event ring. */
    evq?: boolean;
    beforeShm?: (rings: { raw: RegionMemory; rx: IoqDriverQueue; tx: IoqDriverQueue; evq?: IoqDriverQueue }) => void;
    memory?: ReturnType<typeof guestMemory>;
  },
): Promise<RawVenetGuest> {
  const { raw, mem, alloc } = opts.memory ?? guestMemory();
  const conn = new InProcessConnector(bus, mem, { guest: 'hostile' }).open(device);
  if (opts.sg) await negotiate(conn, VENET_CAP_GROUP_SG, opts.sg);
  if (opts.evq) await negotiate(conn, VENET_CAP_GROUP_EVENTQ, VENET_CAP_EVQ_LINKSTATE | VENET_CAP_EVQ_TXC);
  const n = opts.ringSize;
  const rx = new IoqDriverQueue(raw, alloc.alloc(Ioq.byteLength(n), 64), n, `${device}.rx`);
  const tx = new IoqDriverQueue(raw, alloc.alloc(Ioq.byteLength(n), 64), n, `${device}.tx`);
  const rxBuffers: number[] = [];
  const txBuffers: number[] = [];
  for (let i = 0; i < n; i++) {
    rxBuffers.push(alloc.alloc(2048, 64));
    txBuffers.push(alloc.alloc(2048, 64));
    rx.post(rxBuffers[i]!, 2048, i);
  }
  let evq: IoqDriverQueue | undefined;
  if (opts.evq) {
    evq = new IoqDriverQueue(raw, alloc.alloc(Ioq.byteLength(n), 64), n, `${device}.evq`);
    for (let i = 0; i < n; i++) evq.post(alloc.alloc(32, 8), 32, i);
  }
  opts.beforeShm?.({ raw, rx, tx, evq });
  rx.signal = (await conn.shm(VENET_QUEUE_RX, rx.ioq.address, rx.byteLength, rx.signalAddress))!;
  tx.signal = (await conn.shm(VENET_QUEUE_TX, tx.ioq.address, tx.byteLength, tx.signalAddress))!;
  rx.signal.handler = () => {};
  tx.signal.handler = () => {};
  const g: RawVenetGuest = { conn, raw, mem, alloc, rx, tx, rxBuffers, txBuffers };
  if (evq) {
    const s = (await conn.shm(VENET_QUEUE_EVQ, evq.ioq.address, evq.byteLength, evq.signalAddress))!;
    evq.signal = s;
    s.handler = () => {};
    const q = new Uint8Array(VENET_EVQ_QUERY_SIZE);
    le.setU32(q, 4, 32);
    le.setU32(q, 8, VENET_QUEUE_EVQ);
    await conn.call(VENET_FUNC_EVQQUERY, q);
    g.evq = evq;
  }
  if (opts.pmtd) {
    const length = 8192;
    const address = alloc.alloc(length, 64);
    const q = new Uint8Array(VENET_PMTD_QUERY_SIZE);
    le.setU64(q, VENET_PMTD_OFF_POOL, address);
    le.setU32(q, VENET_PMTD_OFF_LEN, length);
    await conn.call(VENET_FUNC_PMTDQUERY, q);
    g.pool = { address, length };
  }
  await conn.call(VENET_FUNC_LINKUP);
  return g;
}

/** A healthy neighbour: a venet device with a capture backend and a VenetDriver guest. */
export interface Healthy {
  backend: CaptureBackend;
  driver: VenetDriver;
  mem: RecordingMemory;
}

export async function openHealthy(bus: Bus, name: string): Promise<Healthy> {
  const backend = new CaptureBackend();
  bus.createDevice('virtual-ethernet', name, { backend, ringSize: 64 });
  const raw = RegionMemory.create(GUEST_BASE, 1 << 20);
  const mem = new RecordingMemory(raw);
  const conn = new InProcessConnector(bus, mem, { guest: 'healthy' }).open(name);
  const driver = await VenetDriver.open(conn, new GuestAllocator(GUEST_BASE, 1 << 20), { ringSize: 16, eventq: 0 });
  return { backend, driver, mem };
}

/** A frame from `src` to `dst` with `n` in it. */
export function frame(n: number, size = 64, dst = [2, 0, 0, 0, 0, 2], src = [2, 0, 0, 0, 0, 1]): Uint8Array {
  const f = new Uint8Array(size);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = n & 0xff;
  return f;
}

/** The healthy neighbour still moves frames both ways, and its device is ready. */
export async function checkHealthy(bus: Bus, name: string, h: Healthy, where: string): Promise<void> {
  let got = 0;
  h.driver.onFrame = () => got++;
  const before = h.backend.frames.length;
  for (let i = 0; i < 4; i++) h.driver.send(frame(i), i < 3 ? SEND_MORE : SEND_NOW);
  for (let i = 0; i < 4; i++) h.backend.inject(frame(i));
  await settleQuiet([h.mem], `${where} (healthy neighbour)`, { until: () => got === 4 && h.backend.frames.length - before === 4 });
  check(bus.status(name).state === 'ready', `${where}: the healthy neighbour ${name} is ${bus.status(name).state}`);
  check(h.backend.frames.length - before === 4, `${where}: the healthy neighbour sent ${h.backend.frames.length - before} of 4 frames`);
  check(got === 4, `${where}: the healthy neighbour received ${got} of 4 frames`);
}
