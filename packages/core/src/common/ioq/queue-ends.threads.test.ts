/**
 * An IOQ's two ends on two threads over one SharedArrayBuffer, the way a worker guest and the
 * host use them: north posts buffers in batches of random length (`post(..., true)`, published
 * together) and reclaims them, south takes each one and completes it
 * with a length derived from its cookie, keeping completions back in batches of random length
 * (`complete(len, true)`), publishing whenever it runs out of work. Both spin (no signals), so
 * the test checks the ring's ordering alone: every buffer comes back once, in order, with the
 * length south wrote; a completion that never becomes visible stalls north, which reports it.
 *
 * This file is also the workers' entry (run through packages/core/src/node/ts-worker.mjs).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RegionMemory } from '../memory/region-memory.js';
import { Ioq } from './ioq.js';
import { IoqDeviceQueue, IoqDriverQueue } from './queue-ends.js';

const BASE = 0x10000;
const COUNT = 64;
/** Where the buffers' (never touched) guest addresses start. */
const BUFFERS = 0x40000;
/** A side that sees no progress for this long reports a stall. */
const STALL_MS = 5000;
/** Control word: set to 1 by south once it has attached. */
const GO = 0;

interface RingData {
  __ioqThreads: 'north' | 'south';
  ring: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  items: number;
  seed: number;
}
interface RingResult {
  ok: number;
  error?: string;
  /** Completions (south) or posts (north) made with `more` (kept back until a later publication). */
  keptBack?: number;
}

/** A xorshift32 sequence from `seed` (each side draws its batch lengths from its own). */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const lenFor = (cookie: number): number => (cookie * 7919) % 1500;
const postedLen = (cookie: number): number => 14 + (cookie % 50);

function north(d: RingData): RingResult {
  const mem = new RegionMemory();
  mem.addRegion(BASE, d.ring);
  const q = new IoqDriverQueue(mem, BASE, COUNT, 'threads');
  const ctl = new Int32Array(d.ctl);
  parentPort!.postMessage({ formatted: true });
  Atomics.wait(ctl, GO, 0, STALL_MS);
  let posted = 0;
  let postedWithMore = 0;
  let expect = 0;
  let error: string | undefined;
  let last = Date.now();
  const onBack = (cookie: number, len: number): void => {
    if (error === undefined && (cookie !== expect || len !== lenFor(cookie))) error = `reclaimed cookie ${cookie} len ${len}, expected cookie ${expect} len ${lenFor(expect)}`;
    expect++;
  };
  const random = xorshift32(d.seed * 2654435761);
  let batch = 0;
  while (expect < d.items && error === undefined) {
    // posts in batches of 1..40 published together (`more`), the batch ended by a post without
    // `more` or, when the ring fills or the items run out, by publish()
    while (posted < d.items && q.canPost) {
      if (batch <= 0) batch = 1 + (random() % 40);
      const more = --batch > 0;
      q.post(BUFFERS + (posted % COUNT) * 0x800, postedLen(posted), posted++, more);
      if (more) postedWithMore++;
    }
    q.publish();
    if (q.reclaim(onBack) > 0) last = Date.now();
    else if (Date.now() - last > STALL_MS) error = `stalled: ${expect} of ${d.items} reclaimed, ${q.outstanding} outstanding`;
  }
  return { ok: expect, error, keptBack: postedWithMore };
}

function south(d: RingData): RingResult {
  const mem = new RegionMemory();
  mem.addRegion(BASE, d.ring);
  const q = new IoqDeviceQueue(mem, BASE, Ioq.byteLength(COUNT), () => {}, 'threads');
  Atomics.store(new Int32Array(d.ctl), GO, 1);
  Atomics.notify(new Int32Array(d.ctl), GO);
  const random = xorshift32(d.seed);
  let done = 0;
  let keptBack = 0;
  let keepBack = 0;
  let last = Date.now();
  while (done < d.items) {
    if (!q.next()) {
      q.publish();
      if (Date.now() - last > STALL_MS) return { ok: done, error: `stalled: ${done} of ${d.items} taken` };
      continue;
    }
    last = Date.now();
    const c = q.cookie;
    if (c !== done || q.len !== postedLen(c) || q.ptr !== BUFFERS + (c % COUNT) * 0x800)
      return { ok: done, error: `took cookie ${c} len ${q.len} ptr ${q.ptr}, expected cookie ${done}` };
    // runs of 0..39 completions kept back, then one that publishes
    if (keepBack <= 0) keepBack = 1 + (random() % 40);
    const more = --keepBack > 0;
    q.complete(lenFor(c), more);
    if (more) keptBack++;
    done++;
  }
  q.publish();
  return { ok: done, keptBack };
}

if (!isMainThread && (workerData as Partial<RingData> | null)?.__ioqThreads) {
  const d = workerData as RingData;
  parentPort!.postMessage(d.__ioqThreads === 'north' ? north(d) : south(d));
} else {
  const { describe, expect, it } = await import('vitest');
  const boot = new URL('../../node/ts-worker.mjs', import.meta.url);

  function start(data: RingData, onFormatted?: () => void): Promise<RingResult> {
    return new Promise((resolve, reject) => {
      const w = new Worker(boot, { workerData: { ...data, __vbusEntry: import.meta.url } });
      w.on('message', (m: RingResult & { formatted?: boolean }) => (m.formatted ? onFormatted?.() : resolve(m)));
      w.once('error', reject);
      w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    });
  }

  describe('IOQ queue ends across worker_threads', () => {
    it('posts and completions published in batches of random length: every buffer taken and back once, in order, as written', async () => {
      const items = 200_000;
      const ring = new SharedArrayBuffer(Ioq.byteLength(COUNT) + 64);
      const ctl = new SharedArrayBuffer(16);
      let southDone: Promise<RingResult> | undefined;
      const northDone = start({ __ioqThreads: 'north', ring, ctl, items, seed: 1 }, () => {
        southDone = start({ __ioqThreads: 'south', ring, ctl, items, seed: 0x9e3779b9 });
      });
      const n = await northDone;
      const s = await southDone!;
      expect(n.error).toBeUndefined();
      expect(s.error).toBeUndefined();
      expect(n.ok).toBe(items);
      expect(s.ok).toBe(items);
      // most posts and completions were kept back behind a batch's first
      expect(s.keptBack).toBeGreaterThan(items / 2);
      expect(n.keptBack).toBeGreaterThan(items / 2);
    });
  });
}
