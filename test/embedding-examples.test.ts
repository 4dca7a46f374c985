// The embedding guide's snippets (docs/embedding.md, the sections on links and on embedder-owned
// memory) are regions of examples/embedding/*.ts: type-checked with the project, run here, and
// quoted by the guide verbatim (test/doc-snippets.test.ts checks that, so it cannot drift).
import { describe, expect, it } from 'vitest';
import { linkLatencyExample } from '../examples/embedding/link-latency.js';
import { flatMemoryExample } from '../examples/embedding/flat-memory.js';
import { embedderMemoryExample } from '../examples/embedding/embedder-memory.js';

describe('docs/embedding.md examples', () => {
  it('links: the ping takes exactly 2 × (8·1042/100e6 s + 1 ms) of virtual time', async () => {
    const r = await linkLatencyExample();
    expect(r.rttMs).toBeCloseTo(2.16672, 9);
    // ARP first (42-byte frames: 3.36 µs + 1 ms each way), then the echo
    expect(r.virtualMs).toBeCloseTo(2.00672 + 2.16672, 9);
    expect(r.far).toMatchObject({
      model: { delayMs: 1, bitsPerSecond: 100e6, queueFrames: 64 },
      toNic: { frames: 2, bytes: 42 + 1042, drops: 0 },
      toSwitch: { frames: 2, bytes: 42 + 1042, drops: 0 },
    });
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
