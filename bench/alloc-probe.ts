// Allocation probe: what a 64-byte stream allocates per frame, in process (both sides on this
// thread), by call site (V8's sampling heap profiler, counting objects the garbage collector has
// already taken too: a flat heap can still churn).
//   node --conditions=@vbus/source --import tsx bench/alloc-probe.ts <venet|virtio-net|echo> [frames]
// prints the bytes allocated per frame and the 15 heaviest call sites (innermost last).
import { Session } from 'node:inspector/promises';
import type { ContainerModule } from 'inversify';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { echoModule } from '@vbus/core/reference/echo';
import { runJob } from './scenarios.js';
import { SinkBackend } from './sink-backend.js';
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
const s = new Session();
s.connect();
// every 256 bytes on average; objects collected since are counted too
await s.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
await run();
const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
const self = new Map<string, number>();
interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}
const walk = (n: ProfileNode, stack: string[]): void => {
  const f = n.callFrame;
  const k = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`;
  const st = [...stack, k];
  const sz = n.selfSize;
  if (sz > 0) {
    const key = st.slice(-3).join(' < ');
    self.set(key, (self.get(key) ?? 0) + sz);
  }
  for (const c of n.children) walk(c, st);
};
walk(profile.head, []);
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log('bytes per frame', (total / frames).toFixed(1));
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v / frames).toFixed(1).padStart(7), k.split(' < ').reverse().join(' < '));
process.exit(0);
