// Reliability and security, hostile guests: replays every shrunk counterexample in
// fuzz/regressions/ and runs every fuzz target for a fixed number of cases (docs/reliability-hostile.md).
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../fuzz/cli.js';
import { afterAll } from 'vitest';
import { loadRegressions, REGRESSIONS_DIR, replay, runBatch } from '../fuzz/runner.js';
import { Watchdog } from '../fuzz/watchdog.js';
import { targets } from '../fuzz/targets/index.js';
import { refusals as controlRefusals } from '../fuzz/targets/control.js';

/** Cases per target (the CLI runs more: `npm run fuzz -- --minutes N`). */
const RUNS = Number(process.env.VBUS_FUZZ_RUNS ?? 500);
/** Fixed seed, so a red run here is reproducible with `npm run fuzz -- --target T --seed S`. */
const SEED = Number(process.env.VBUS_FUZZ_SEED ?? 20261125);

describe('hostile guests: regression files replay clean', () => {
  const files = loadRegressions();
  it('fuzz/regressions/ holds well-formed regression files', () => {
    for (const [name, r] of files) {
      expect([`${r.target}-${r.seed}.json`, `${r.target}-hang-${r.seed}.json`]).toContain(name);
      expect(targets.map((t) => t.name)).toContain(r.target);
    }
  });
  for (const [name, r] of files) {
    it(`replays ${name}`, async () => {
      expect(['progress', 'failed', 'refused']).toContain(await replay(r));
    });
  }
});

describe('hostile guests: every fuzz target holds the oracle', () => {
  // a synchronous hang blocks this thread: the watchdog thread writes the case and kills the run
  const watchdog = new Watchdog(REGRESSIONS_DIR, 25_000);
  afterAll(() => watchdog.stop());
  for (const t of targets) {
    it(`${t.name}: ${RUNS} cases (${t.description})`, async () => {
      const r = await runBatch(t, RUNS, SEED, (c) => watchdog.beat(t.name, SEED, c));
      expect(r.failure?.error, JSON.stringify(r.failure?.case)).toBeUndefined();
      expect(r.runs).toBe(RUNS);
      // the arbitraries are nearly valid: both outcomes must show up, or the target tests little
      expect(r.outcomes.progress, 'cases that made valid progress').toBeGreaterThan(0);
      if (t.name !== 'virtio-net') expect(r.outcomes.failed + r.outcomes.refused, 'cases the host refused or failed cleanly').toBeGreaterThan(0);
    });
  }
  it('control: the cases reach every limit and both kinds of refusal', () => {
    // counted over the control target's run above (call size is refused by the connector first)
    for (const k of [
      'malformed',
      'unknownVerb',
      'connectionsPerGuest',
      'regionsPerGuest',
      'memoryPerGuest',
      'requestsInFlight',
      'callBytes',
      'bus.connectionsPerDevice',
      'bus.shmPerConnection',
    ])
      expect(controlRefusals[k] ?? 0, k).toBeGreaterThan(0);
  });
});

describe('npm run fuzz arguments', () => {
  it('parses --minutes, --target, --seed and --batch, and refuses unknown ones', () => {
    expect(parseArgs(['--minutes', '2', '--target', 'ioq', '--seed=7'])).toEqual({ minutes: 2, target: 'ioq', seed: 7, batch: 100 });
    expect(() => parseArgs(['--target', 'nope'])).toThrow(/no fuzz target "nope"/);
    expect(() => parseArgs(['--minutes'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option/);
  });
});
