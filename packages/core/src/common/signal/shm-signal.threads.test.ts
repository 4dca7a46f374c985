/**
 * shm-signal across two threads. Each worker holds one endpoint of one descriptor in a
 * SharedArrayBuffer. They play stop-and-wait ping-pong: north produces item k and injects; south's
 * handler sees k and answers k; north's handler sees the answer and produces k+1. A side learns of
 * the peer's progress only through its handler, run from wakeup() on an Atomics doorbell, and each
 * side stops and waits for the other after every step; so a single lost wakeup stalls the game,
 * which the test reports (doorbell wait timed out). To reach the racy paths, answers are sent
 * sometimes from inside the handler (the peer's next inject then lands while this side is still in
 * its wakeup loop), handlers spin a random while, and a handler sometimes masks its signal (the
 * venet driver's poll mode) and the main loop unmasks it later (enable must re-check).
 *
 * This file is also the workers' entry (run through packages/core/src/node/ts-worker.mjs).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ShmSignal } from './shm-signal.js';
import { SHM_SIGNAL_SIZE, Side } from './layout.js';

/** Control words after the descriptor: doorbell[side], produced[side]. */
const BELL = 0;
const PRODUCED = 2;
const CTL_WORDS = 4;
/** A worker that waits this long on its doorbell for the peer's move reports a lost wakeup. */
const LOST_AFTER_MS = 3000;

interface StressData {
  __signalStress: true;
  sab: SharedArrayBuffer;
  side: Side;
  items: number;
  seed: number;
}
interface StressResult {
  side: Side;
  observed: number;
  produced: number;
  lost: boolean;
  injected: number;
  suppressed: number;
  handlerRuns: number;
  wakeups: number;
  masked: number;
}

function runWorker(d: StressData): StressResult {
  const cells = new Int32Array(d.sab, 0, SHM_SIGNAL_SIZE / 4);
  const ctl = new Int32Array(d.sab, SHM_SIGNAL_SIZE, CTL_WORDS);
  const me = d.side;
  const peer = me === Side.North ? Side.South : Side.North;
  let rnd = d.seed >>> 0 || 1;
  const random = () => {
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    return (rnd >>> 0) / 0x1_0000_0000;
  };
  const spin = (max: number) => {
    for (let k = (random() * max) | 0; k > 0; k--) Atomics.load(ctl, PRODUCED + me);
  };
  const sig = new ShmSignal(cells, me, () => {
    Atomics.add(ctl, BELL + peer, 1);
    Atomics.notify(ctl, BELL + peer);
  });
  sig.selfWake = () => void Atomics.add(ctl, BELL + me, 1);
  let observed = 0;
  let produced = 0;
  let masked = 0;
  /** North moves when the peer has answered its last item; south when there is an item to answer. */
  const canMove = () => produced < d.items && (me === Side.North ? observed === produced : observed > produced);
  const move = () => {
    produced++;
    Atomics.store(ctl, PRODUCED + me, produced);
    sig.inject();
  };
  sig.handler = () => {
    const p = Atomics.load(ctl, PRODUCED + peer);
    if (p < observed) throw new Error('produced count went backwards');
    observed = p;
    if (random() < 0.1) {
      sig.disable();
      masked++;
    }
    if (canMove() && random() < 0.5) move();
    spin(64);
  };
  let seen = 0; // the bell starts at 0; the peer may have rung it before this worker started
  let lost = false;
  while (observed < d.items || canMove()) {
    if (canMove()) move();
    while (!sig.enabled) {
      spin(256); // poll mode for a while: the peer's answer may arrive masked
      sig.enable(); // re-checks, and the handler it runs may mask again: never sleep masked
    }
    if (observed >= d.items && !canMove()) break;
    let b = Atomics.load(ctl, BELL + me);
    for (let k = 0; b === seen && k < 2000; k++) b = Atomics.load(ctl, BELL + me); // busy-poll first
    if (b === seen && !canMove() && Atomics.wait(ctl, BELL + me, b, LOST_AFTER_MS) === 'timed-out') {
      lost = true;
      break;
    }
    b = Atomics.load(ctl, BELL + me);
    if (b !== seen) {
      seen = b;
      sig.wakeup();
    }
  }
  const c = sig.counters;
  return { side: me, observed, produced, lost, injected: c.injected, suppressed: c.suppressed, handlerRuns: c.handlerRuns, wakeups: c.wakeups, masked };
}

if (!isMainThread && (workerData as Partial<StressData> | null)?.__signalStress) {
  parentPort!.postMessage(runWorker(workerData as StressData));
} else {
  const { describe, expect, it } = await import('vitest');
  const boot = new URL('../../node/ts-worker.mjs', import.meta.url);

  function start(data: StressData): Promise<StressResult> {
    return new Promise((resolve, reject) => {
      const w = new Worker(boot, { workerData: { ...data, __vbusEntry: import.meta.url } });
      w.once('message', (r: StressResult) => resolve(r));
      w.once('error', reject);
      w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    });
  }

  describe('ShmSignal across worker_threads', () => {
    it('stop-and-wait ping-pong over a doorbell, with masking: no lost wakeups, every inject accounted for', async () => {
      for (let round = 0; round < 2; round++) {
        const items = 30_000;
        const sab = new SharedArrayBuffer(SHM_SIGNAL_SIZE + CTL_WORDS * 4);
        ShmSignal.format(new Int32Array(sab, 0, SHM_SIGNAL_SIZE / 4));
        const results = await Promise.all([
          start({ __signalStress: true, sab, side: Side.North, items, seed: 0x9e3779b9 + round }),
          start({ __signalStress: true, sab, side: Side.South, items, seed: 0x85ebca6b + round }),
        ]);
        for (const r of results) {
          expect(r.lost, `side ${r.side} waited for a move that never woke it: ${JSON.stringify(results)}`).toBe(false);
          expect(r.observed).toBe(items);
          expect(r.produced).toBe(items);
          expect(r.injected + r.suppressed).toBe(items);
          expect(r.injected).toBeGreaterThan(0);
        }
        // the masked (poll-mode) path was exercised
        expect(results[0]!.masked + results[1]!.masked).toBeGreaterThan(0);
      }
    }, 60_000);
  });
}
