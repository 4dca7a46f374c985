import { describe, expect, it } from 'vitest';
import { runSoak } from '../soak/soak.js';

describe('reliability: soak', () => {
  it('survives every injected fault and loses no frame (25 s)', async () => {
    const r = await runSoak({ durationMs: 20_000, guests: 4, seed: 11 });
    console.log(
      `soak: faults ${r.faultsSurvived}/${r.faultsInjected}, sent ${r.framesSent}, delivered ${r.framesDelivered}, dropped ${r.framesDropped}, lost ${r.framesLost}, heap growth ${(r.heapGrowthBytes / 1048576).toFixed(2)} MB`,
    );
    expect(r.problems, r.problems.join('; ')).toEqual([]);
    expect(r.faultsInjected).toBeGreaterThan(5);
    expect(r.faults.filter((f) => !f.survived)).toEqual([]);
    expect(r.framesLost).toBe(0);
    expect(r.framesDelivered).toBeGreaterThan(1000);
  }, 90_000);
});
