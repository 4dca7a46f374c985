// Baselines measured in the same run, with the same two threads as the bus rows (main + one
// worker): a minimal hand-written SPSC shared-memory ring, ringbuf.js (the npm SPSC ring a
// JavaScript developer would reach for), one postMessage per frame, and raw Atomics.wait/notify
// and spin ping-pong round trips.
import { Worker } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { percentile } from './stats.js';

export interface RingBaseline {
  size: number;
  frames: number;
  seconds: number;
  framesPerSec: number;
  /** Atomics.notify calls the producer made (only when the consumer slept). */
  notifies: number;
  /** Times the consumer went to sleep in Atomics.wait. */
  consumerSleeps: number;
  /** Process CPU time (every thread: user + system) during the run, in µs. */
  cpuUs: number;
}
export interface PostMessageBaseline {
  size: number;
  frames: number;
  seconds: number;
  framesPerSec: number;
}
export interface PingPongBaseline {
  kind: 'atomics' | 'spin';
  rounds: number;
  p50Us: number;
  p99Us: number;
}

const SLOTS = 256;
const SLOT_SIZE = 2048;

/** The baseline worker, started once and reused for every baseline. */
export class BaselineThread {
  private constructor(private readonly worker: Worker) {}

  static async start(): Promise<BaselineThread> {
    const worker = new Worker(new URL('./baseline-worker.mjs', import.meta.url));
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new BaselineThread(worker);
  }

  private next(): Promise<{ t: string; notifies?: number; sleeps?: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.worker.once('error', onError);
      this.worker.once('message', (m) => {
        this.worker.off('error', onError);
        resolve(m);
      });
    });
  }

  /** SPSC ring: the worker produces (copies in), this thread consumes (copies out). */
  async ring(size: number, frames: number): Promise<RingBaseline> {
    const ctrl = new Int32Array(new SharedArrayBuffer(64));
    const data = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_SIZE));
    const lens = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
    const out = new Uint8Array(SLOT_SIZE);
    const done = this.next();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    this.worker.postMessage({ t: 'ring', ctrl: ctrl.buffer, data: data.buffer, lens: lens.buffer, slots: SLOTS, slotSize: SLOT_SIZE, size, frames });
    let tail = 0;
    let sleeps = 0;
    let check = 0;
    while (tail < frames) {
      const head = Atomics.load(ctrl, 0);
      if (head === tail) {
        let spins = 0;
        while (Atomics.load(ctrl, 0) === tail && ++spins < 200);
        if (Atomics.load(ctrl, 0) !== tail) continue;
        // announce the sleep, re-check, then sleep: the producer notifies only if it sees the flag
        Atomics.store(ctrl, 2, 1);
        if (Atomics.load(ctrl, 0) === tail) {
          sleeps++;
          Atomics.wait(ctrl, 0, tail, 1000);
        }
        Atomics.store(ctrl, 2, 0);
        continue;
      }
      while (tail < head) {
        const s = tail % SLOTS;
        const off = s * SLOT_SIZE;
        out.set(data.subarray(off, off + lens[s]!));
        check += out[0]!;
        tail++;
      }
      Atomics.store(ctrl, 1, tail);
      if (Atomics.load(ctrl, 3) !== 0) Atomics.notify(ctrl, 1);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const m = await done;
    void check;
    return { size, frames, seconds, framesPerSec: frames / seconds, notifies: m.notifies ?? 0, consumerSleeps: sleeps, cpuUs: cpu.user + cpu.system };
  }

  /**
   * ringbuf.js, both sides polling: the worker pushes a 2-byte length and the frame, this thread
   * pops the length, then the frame into its own buffer. Capacity: 256 frames, as the ring's.
   */
  async ringbuf(size: number, frames: number): Promise<RingBaseline> {
    const sab = RingBuffer.getStorageForCapacity(SLOTS * (size + 2), Uint8Array);
    const rb = new RingBuffer(sab, Uint8Array);
    const header = new Uint8Array(2);
    const out = new Uint8Array(SLOT_SIZE);
    const done = this.next();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    this.worker.postMessage({ t: 'ringbuf', sab, size, frames });
    let check = 0;
    for (let got = 0; got < frames; got++) {
      while (rb.available_read() < 2);
      rb.pop(header, 2);
      const len = header[0]! | (header[1]! << 8);
      while (rb.available_read() < len);
      rb.pop(out, len);
      check += out[0]!;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await done;
    void check;
    return { size, frames, seconds, framesPerSec: frames / seconds, notifies: 0, consumerSleeps: 0, cpuUs: cpu.user + cpu.system };
  }

  /** One postMessage per frame (structured clone of a Uint8Array), worker to this thread. */
  async postMessage(size: number, frames: number): Promise<PostMessageBaseline> {
    let got = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: Uint8Array) => {
        if (m.length === size) got++;
        if (got === frames) {
          this.worker.off('message', onMessage);
          this.worker.off('error', reject);
          resolve();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', reject);
      this.worker.postMessage({ t: 'post', size, frames });
    });
    const seconds = (performance.now() - t0) / 1000;
    return { size, frames, seconds, framesPerSec: frames / seconds };
  }

  /** Round trips: this thread writes 2i+1, the worker answers 2i+2. */
  async pingPong(kind: 'atomics' | 'spin', rounds: number): Promise<PingPongBaseline> {
    const c = new Int32Array(new SharedArrayBuffer(4));
    const started = this.next();
    this.worker.postMessage({ t: kind === 'atomics' ? 'atomics-pong' : 'spin-pong', cell: c.buffer, rounds });
    await started;
    const done = this.next();
    const samples = new Float64Array(rounds);
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      Atomics.store(c, 0, 2 * i + 1);
      if (kind === 'atomics') {
        Atomics.notify(c, 0);
        while (Atomics.load(c, 0) !== 2 * i + 2) Atomics.wait(c, 0, 2 * i + 1, 1000);
      } else while (Atomics.load(c, 0) !== 2 * i + 2);
      samples[i] = (performance.now() - t0) * 1000;
    }
    await done;
    // the first rounds include the worker getting scheduled; drop a warm-up tenth
    const warm = samples.subarray(Math.floor(rounds / 10));
    return { kind, rounds, p50Us: percentile(warm, 0.5), p99Us: percentile(warm, 0.99) };
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
