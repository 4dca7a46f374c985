// The worker guest of bench/rx-probe.ts: opens the NIC, counts received frames, reports.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';

const g = connectWorkerGuest({ memoryBytes: 64 << 20 });
const { kind, frames, rxPollTurns } = g.data as { kind: 'venet' | 'virtio-net'; frames: number; rxPollTurns: number };
const conn = await g.bus.open('nic0');
const nic = kind === 'venet' ? await VenetDriver.open(conn, g.allocator, { rxPollTurns }) : await VirtioNetDriver.open(conn, g.allocator, { rxPollTurns });
let received = 0;
let t0 = 0;
await new Promise<void>((done) => {
  nic.onFrame = () => {
    if (received++ === 0) t0 = performance.now();
    if (received === frames) done();
  };
  parentPort!.postMessage({ t: 'ready' });
});
const seconds = (performance.now() - t0) / 1000;
parentPort!.postMessage({ t: 'result', result: { seconds, received, interrupts: nic.signalCounters().rx.wakeups } });
await conn.close();
await g.shutdown();
