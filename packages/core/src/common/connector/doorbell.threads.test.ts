/**
 * A doorbell's two directions on two threads, each side sleeping with `sleepOn` and ringing with
 * `DoorbellLink`, which notifies only a receiver whose asleep word is set: a ping-pong of many
 * round trips, each side sometimes spinning a random while before it sleeps, so that rings land
 * before, during and after the receiver's decision to sleep. A lost wakeup leaves one side
 * asleep until its timeout, which it reports.
 *
 * This file is also the worker's entry (run through packages/core/src/node/ts-worker.mjs).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, WAKE_ASLEEP, WAKE_SEQ, doorbellAsleepCell, newDoorbell, newWakeWord, sleepOn } from './doorbell.js';

/** A side that waits this long for the other's ring reports a lost wakeup. */
const TIMEOUT_MS = 5000;

interface PingData {
  __doorbellThreads: true;
  cells: SharedArrayBuffer;
  wake: SharedArrayBuffer;
  rounds: number;
}
interface PingResult {
  rounds: number;
  error?: string;
}

/**
 * The guest side: `rounds` times, wait for the host's ring on the side-wide wake word (as a
 * blocking guest does), then ring back toward the host.
 */
function guestSide(cells: Int32Array, wake: Int32Array, rounds: number, seed: number): PingResult {
  const toHost = new DoorbellLink(cells, DOORBELL_TO_HOST);
  let rnd = seed >>> 0 || 1;
  const random = (): number => {
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    return rnd >>> 0;
  };
  let seen = 0;
  for (let i = 0; i < rounds; i++) {
    // spin a random while (a third of the time not at all) before sleeping
    for (let spins = random() % 3 === 0 ? 0 : random() % 2000; spins > 0; spins--) if (Atomics.load(wake, WAKE_SEQ) !== seen) break;
    while (Atomics.load(wake, WAKE_SEQ) === seen) {
      if (sleepOn(wake, WAKE_SEQ, WAKE_ASLEEP, seen, TIMEOUT_MS) === 'timed-out') return { rounds: i, error: `guest, round ${i}: no ring within ${TIMEOUT_MS} ms (a lost wakeup)` };
    }
    seen = Atomics.load(wake, WAKE_SEQ);
    Atomics.exchange(cells, DOORBELL_TO_GUEST, 0);
    toHost.ring(0);
  }
  return { rounds };
}

if (!isMainThread && (workerData as Partial<PingData> | null)?.__doorbellThreads) {
  const d = workerData as PingData;
  // the guest side: receives toward the guest on its side-wide wake word, rings toward the host
  const cells = new Int32Array(d.cells);
  const wake = new Int32Array(d.wake);
  parentPort!.postMessage(guestSide(cells, wake, d.rounds, 0x9e3779b9));
} else {
  const { describe, expect, it } = await import('vitest');
  const boot = new URL('../../node/ts-worker.mjs', import.meta.url);

  describe('doorbell across worker_threads', () => {
    it('a ping-pong of sleeping sides, rings notified only when the receiver is asleep, loses no wakeup', async () => {
      const rounds = 3000;
      const cells = newDoorbell();
      const wake = newWakeWord();
      const guest = new Promise<PingResult>((resolve, reject) => {
        const w = new Worker(boot, { workerData: { __doorbellThreads: true, cells: cells.buffer, wake: wake.buffer, rounds, __vbusEntry: import.meta.url } });
        w.once('message', resolve);
        w.once('error', reject);
      });
      // the host side rings toward the guest through the guest's wake word, as a blocking guest's host does
      const toGuest = new DoorbellLink(cells, DOORBELL_TO_GUEST, wake);
      let seen = 0;
      let error: string | undefined;
      toGuest.ring(0);
      for (let i = 0; i < rounds && error === undefined; i++) {
        // the host spins a random while too before it sleeps
        for (let spins = (i * 7919) % 3 === 0 ? 0 : (i * 104729) % 2000; spins > 0; spins--) if (Atomics.load(cells, DOORBELL_TO_HOST + 1) !== seen) break;
        while (Atomics.load(cells, DOORBELL_TO_HOST + 1) === seen) {
          if (sleepOn(cells, DOORBELL_TO_HOST + 1, doorbellAsleepCell(DOORBELL_TO_HOST), seen, TIMEOUT_MS) === 'timed-out') {
            error = `host, round ${i}: no ring within ${TIMEOUT_MS} ms (a lost wakeup)`;
            break;
          }
        }
        seen = Atomics.load(cells, DOORBELL_TO_HOST + 1);
        Atomics.exchange(cells, DOORBELL_TO_HOST, 0);
        if (i + 1 < rounds) toGuest.ring(0);
      }
      const g = await guest;
      expect(error).toBeUndefined();
      expect(g.error).toBeUndefined();
      expect(g.rounds).toBe(rounds);
      // both asleep words are clear once nobody sleeps
      expect([Atomics.load(cells, doorbellAsleepCell(DOORBELL_TO_HOST)), Atomics.load(cells, doorbellAsleepCell(DOORBELL_TO_GUEST)), Atomics.load(wake, WAKE_ASLEEP)]).toEqual([
        0, 0, 0,
      ]);
    });
  });
}
