// The embedding guide's snippets (docs/embedding.md, the sections on links and on embedder-owned
// memory) are regions of examples/embedding/*.ts: type-checked with the project, run here, and
// quoted by the guide verbatim (checked here too, so the guide cannot drift from the code).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { linkLatencyExample } from '../examples/embedding/link-latency.js';
import { flatMemoryExample } from '../examples/embedding/flat-memory.js';
import { embedderMemoryExample } from '../examples/embedding/embedder-memory.js';

const root = new URL('../', import.meta.url);

/** The lines between `// #region name` and `// #endregion name` of a file, dedented. */
function region(file: string, name: string): string {
  const lines = readFileSync(new URL(file, root), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`);
  if (start < 0 || end < 0) throw new Error(`${file}: no region ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join('\n');
}

describe('docs/embedding.md snippets', () => {
  it('every snippet marker in the guide is followed by exactly the region it names', () => {
    const doc = readFileSync(new URL('docs/embedding.md', root), 'utf8');
    const marker = /<!-- snippet: (\S+)#(\S+) -->\n```ts\n([\s\S]*?)\n```/g;
    const seen: string[] = [];
    for (const m of doc.matchAll(marker)) {
      expect(m[3], `${m[1]}#${m[2]}`).toBe(region(m[1]!, m[2]!));
      seen.push(`${m[1]}#${m[2]}`);
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        'examples/embedding/link-latency.ts#switch',
        'examples/embedding/link-latency.ts#hosts',
        'examples/embedding/link-latency.ts#ping',
        'examples/embedding/flat-memory.ts#flat',
        'examples/embedding/embedder-memory.ts#spawn',
        'examples/embedding/embedder-memory-guest.ts#guest',
      ]),
    );
  });

  it('links: the ping takes exactly 2 × (8·1042/100e6 s + 1 ms) of virtual time', async () => {
    const r = await linkLatencyExample();
    expect(r.rttMs).toBeCloseTo(2.16672, 9);
    // ARP first (42-byte frames: 3.36 µs + 1 ms each way), then the echo
    expect(r.virtualMs).toBeCloseTo(2.00672 + 2.16672, 9);
    expect(r.far).toMatchObject({ model: { delayMs: 1, bitsPerSecond: 100e6, queueFrames: 64 }, toNic: { frames: 2, bytes: 42 + 1042, drops: 0 }, toSwitch: { frames: 2, bytes: 42 + 1042, drops: 0 } });
  });

  it('flat memory: the echo device moves every frame through rings in the emulator RAM', async () => {
    expect(await flatMemoryExample()).toEqual({ received: 128, intact: true });
  });

  it("embedder memory: a worker guest's NIC in the embedder's RAM answers a ping, inside its window only", async () => {
    const r = await embedderMemoryExample();
    expect(r.rttMs).toBeGreaterThan(0);
    expect(r.ramTouched).toBe(true);
    expect(r.kernelIntact).toBe(true);
  });
});
