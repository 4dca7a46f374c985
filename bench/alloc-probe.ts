// Allocation probe: what a 64-byte stream allocates per frame, in process (both sides on this
// thread), by call site (V8's sampling heap profiler, counting objects the garbage collector has
// already taken too: a flat heap can still churn).
//   node --conditions=@vbus/source --import tsx bench/alloc-probe.ts <venet|virtio-net|echo> [frames]
// prints the bytes allocated per frame and the 15 heaviest call sites (innermost first).
import type { ContainerModule } from 'inversify';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { echoModule } from '@vbus/core/reference/echo';
import { runJob } from './scenarios.js';
import { SinkBackend } from './sink-backend.js';
import { allocationReport, sampleAllocations } from './heap-sampling.js';
const device = (process.argv[2] ?? 'venet') as 'venet' | 'virtio-net' | 'echo';
const { vbus } = createVbus({ modules: [echoModule, venetModule as ContainerModule, virtioNetModule as ContainerModule] });
const bus = vbus.createBus('p');
const sink = new SinkBackend();
bus.createDevice('vbus-echo', 'echo-n10', { txCompleteEvery: 10, pollTurns: 16 });
bus.createDevice('virtual-ethernet', 'venet0', { txCompleteEvery: 10, backend: sink });
bus.createDevice('virtio-net', 'virtio-net0', { backend: sink });
const name = device === 'echo' ? 'echo-n10' : device === 'venet' ? 'venet0' : 'virtio-net0';
const frames = Number(process.argv[3] ?? 500_000);
const job = { kind: 'stream' as const, device, deviceName: name, size: 64, frames, batching: true, driverPollTurns: 16 };
const bytes = 16 << 20;
// one stream to warm up (compiled code, buffers), then the sampled one
const run = async () => runJob(job, new InProcessConnector(bus, RegionMemory.create(0x10000, bytes)).open(name), new GuestAllocator(0x10000, bytes));
await run();
console.log(allocationReport(await sampleAllocations(run), frames));
process.exit(0);
