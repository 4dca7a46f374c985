/**
 * A watchdog thread for synchronous hangs. settleQuiet() catches a device that keeps the event
 * loop busy, but a device stuck in a `for (;;)` blocks the event loop itself, so nothing on the
 * main thread can notice. Before each case the main thread writes the case (JSON) into shared
 * memory and bumps a heartbeat; the watchdog, in its own thread, writes the case that stopped
 * beating to fuzz/regressions/<target>-hang-<seed>.json and kills the process.
 */
import { Worker } from 'node:worker_threads';

const CODE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const ctl = new Int32Array(workerData.control);
const bytes = new Uint8Array(workerData.text);
let last = Atomics.load(ctl, 0);
for (;;) {
  const r = Atomics.wait(ctl, 0, last, workerData.timeoutMs);
  if (Atomics.load(ctl, 1) === 1) break;
  const now = Atomics.load(ctl, 0);
  if (r === 'timed-out' && now === last) {
    const text = new TextDecoder().decode(bytes.slice(0, Atomics.load(ctl, 2)));
    const info = JSON.parse(text);
    const file = path.join(workerData.dir, info.target + '-hang-' + info.seed + '.json');
    fs.mkdirSync(workerData.dir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...info, error: 'hang: the case ran for more than ' + workerData.timeoutMs + ' ms without returning (a synchronous loop: the event loop was blocked)', found: new Date().toISOString() }, null, 2) + '\\n');
    fs.writeSync(2, '\\nFAIL ' + info.target + ' seed ' + info.seed + ': hang (no heartbeat for ' + workerData.timeoutMs + ' ms); case written to ' + file + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
  last = now;
}
`;

export class Watchdog {
  private readonly control = new Int32Array(new SharedArrayBuffer(12));
  private readonly text = new Uint8Array(new SharedArrayBuffer(1 << 20));
  private readonly worker: Worker;

  constructor(dir: string, timeoutMs = 20_000) {
    this.worker = new Worker(CODE, { eval: true, workerData: { control: this.control.buffer, text: this.text.buffer, dir, timeoutMs } });
    this.worker.unref();
  }

  /** About to run `c` of `target` from batch `seed`. */
  beat(target: string, seed: number, c: unknown): void {
    const enc = new TextEncoder().encode(JSON.stringify({ target, seed, path: null, case: c }));
    const n = Math.min(enc.length, this.text.length);
    this.text.set(enc.subarray(0, n));
    Atomics.store(this.control, 2, n);
    Atomics.add(this.control, 0, 1);
    Atomics.notify(this.control, 0);
  }

  async stop(): Promise<void> {
    Atomics.store(this.control, 1, 1);
    Atomics.add(this.control, 0, 1);
    Atomics.notify(this.control, 0);
    await this.worker.terminate();
  }
}
