// Allocation on the bus thread while worker guests stream through the learning switch (the
// bench's scale row): bytes per frame by call site, garbage included.
//   node --conditions=@vbus/source --import tsx bench/scale-alloc-probe.ts [guests] [frames per guest]
import { Session } from 'node:inspector/promises';
import { runScaleRow } from './scale.js';
const n = Number(process.argv[2] ?? 1);
const frames = Number(process.argv[3] ?? 1_000_000);
// a warm-up row, then the sampled one (every 512 bytes; objects collected since are counted too)
await runScaleRow(n, 100_000, 64);
const s = new Session();
s.connect();
await s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
const r = await runScaleRow(n, frames, 64);
const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
console.log(n, 'guests', (r.framesPerSec / 1e6).toFixed(3), 'M/s', r.cpuUsPerFrame.toFixed(2), 'cpu us/frame');
const self = new Map<string, number>();
interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}
const walk = (nd: ProfileNode, stack: string[]): void => {
  const f = nd.callFrame;
  const st = [...stack, `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}`];
  if (nd.selfSize > 0) {
    const k = st.slice(-4).reverse().join(' < ');
    self.set(k, (self.get(k) ?? 0) + nd.selfSize);
  }
  for (const c of nd.children) walk(c, st);
};
walk(profile.head, []);
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log('bytes per frame (main thread)', (total / frames).toFixed(1));
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((v / frames).toFixed(1).padStart(7), k);
process.exit(0);
