import type { GuestConnection } from '../../common/connector/guest-connection.js';
import type { GuestAllocator } from '../../common/memory/allocator.js';
import { EchoDriver, type EchoDriverOptions, type EchoSendOptions } from './echo-driver.js';

const MORE: EchoSendOptions = Object.freeze({ more: true });
const NOW: EchoSendOptions = Object.freeze({ more: false });

/** What a run of {@link runEchoScenario} observed, from the guest's side. */
export interface EchoScenarioResult {
  sent: number;
  received: number;
  /** Every received frame matched what was sent, in order. */
  intact: boolean;
  kicks: number;
  kicksSuppressed: number;
  rxInterrupts: number;
  txCompleteInterrupts: number;
}

/**
 * The same scenario on any connector: send `bursts` bursts of `burst` frames of `size` bytes,
 * wait for every echo, and report what crossed. Frame i carries i in its first 4 bytes.
 */
export async function runEchoScenario(
  conn: GuestConnection,
  allocator: GuestAllocator,
  options: { burst: number; bursts?: number; size: number; wait?: (done: () => boolean) => Promise<void> } & EchoDriverOptions,
): Promise<EchoScenarioResult> {
  const driver = await EchoDriver.open(conn, allocator, options);
  let expected = 0;
  let intact = true;
  driver.onFrame = (f) => {
    const v = f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24);
    if (v !== expected || f.length !== options.size) intact = false;
    expected++;
  };
  const frame = new Uint8Array(options.size);
  const bursts = options.bursts ?? 1;
  const total = options.burst * bursts;
  let sent = 0;
  const defaultWait = (done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const tick = () => (done() ? resolve() : conn.closed ? reject(new Error('connection closed')) : setImmediate(tick));
      tick();
    });
  const wait = options.wait ?? defaultWait;
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < options.burst; i++) {
      frame[0] = sent;
      frame[1] = sent >> 8;
      frame[2] = sent >> 16;
      frame[3] = sent >> 24;
      const last = i === options.burst - 1;
      if (!driver.send(frame, last ? NOW : MORE)) {
        driver.flush();
        await wait(() => driver.tx.outstanding < driver.tx.count);
        i--;
        continue;
      }
      sent++;
    }
    const target = sent;
    await wait(() => driver.counters.received >= target && driver.tx.outstanding === 0);
  }
  const tx = driver.txSignalCounters;
  const rx = driver.rxSignalCounters;
  return {
    sent: total,
    received: driver.counters.received,
    intact,
    kicks: tx.injected,
    kicksSuppressed: tx.suppressed,
    rxInterrupts: rx.wakeups,
    txCompleteInterrupts: tx.wakeups,
  };
}
