// What vbus's pending/dirty de-duplication saves on top of virtio's own notification suppression
// (docs/benchmarks.md, closing note of the virtio-compat issue):
//   node --conditions=@vbus/source --import tsx bench/dedup-probe.ts [frames]
// streams 64-byte frames from a virtio-net guest in a worker thread, once batched (kick checks per
// batch, EVENT_IDX) and once with a kick check after every frame, and prints the kicks that crossed
// and the kicks the shm-signal suppressed because a wake was already in flight.
import type { ContainerModule } from 'inversify';
import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { virtioNetModule } from '@vbus/virtio-compat';
import type { JobResult } from './scenarios.js';

const frames = Number(process.argv[2] ?? 500_000);
const { vbus } = createVbus({ modules: [virtioNetModule as ContainerModule] });
const bus = vbus.createBus('dedup');
bus.createDevice('virtio-net', 'virtio-net0', {});
for (const batching of [true, false]) {
  const job = { kind: 'stream' as const, device: 'virtio-net' as const, deviceName: 'virtio-net0', size: 64, frames, batching };
  const guest = new WorkerConnector(bus).spawn(new URL('./bus-guest.ts', import.meta.url), { name: 'dedup', workerData: { jobs: [job] } });
  const r = await new Promise<JobResult>((resolve) => guest.worker.on('message', (m: { t: string; result: JobResult }) => m.t === 'result' && resolve(m.result)));
  await guest.exited;
  if (!r.signals) throw new Error(`stream failed: ${r.error}`);
  console.log(
    `${batching ? 'kick check per batch' : 'kick check per frame'}: ${frames} frames, kicks crossed ${r.signals.kicks}, ` +
      `suppressed because one was in flight ${r.signals.kicksSuppressed}, ${(frames / r.signals.seconds / 1e6).toFixed(2)} M frames/s`,
  );
}
process.exit(0);
