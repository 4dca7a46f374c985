// Allocation on the bus thread while worker guests stream through the learning switch (the
// bench's scale row): bytes per frame by call site, garbage included.
//   node --conditions=@vbus/source --import tsx bench/scale-alloc-probe.ts [guests] [frames per guest]
import { allocationReport, sampleAllocations } from './heap-sampling.js';
import { runScaleRow } from './scale.js';
const n = Number(process.argv[2] ?? 1);
const frames = Number(process.argv[3] ?? 1_000_000);
// a warm-up row, then the sampled one (a sample every 512 bytes)
await runScaleRow(n, 100_000, 64);
const a = await sampleAllocations(() => runScaleRow(n, frames, 64), 512);
const r = a.result;
console.log(n, 'guests', (r.framesPerSec / 1e6).toFixed(3), 'M/s', r.cpuUsPerFrame.toFixed(2), 'cpu us/frame');
// per frame delivered, all guests together
console.log(allocationReport(a, r.delivered, 12));
process.exit(0);
