/**
 * Running targets with fast-check, writing shrunk counterexamples as regression files, and
 * replaying them.
 */
import fc from 'fast-check';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzTarget, Outcome } from './target.js';
import { targetNamed } from './targets/index.js';

export const REGRESSIONS_DIR = fileURLToPath(new URL('./regressions/', import.meta.url));

/** What a regression file holds. */
export interface Regression {
  target: string;
  seed: number;
  path: string | null;
  /** The oracle's message for the shrunk case. */
  error: string;
  /** The shrunk case, as the target's run() takes it. */
  case: unknown;
  found: string;
}

export interface BatchResult {
  runs: number;
  outcomes: Record<Outcome, number>;
  failure?: Regression;
}

/** Run `numRuns` cases of `target` from `seed`. On a failure fast-check shrinks it first. */
export async function runBatch(target: FuzzTarget, numRuns: number, seed: number, beforeCase?: (c: unknown) => void): Promise<BatchResult> {
  const outcomes: Record<Outcome, number> = { progress: 0, failed: 0, refused: 0 };
  let runs = 0;
  const result = await fc.check(
    fc.asyncProperty(target.arbitrary(), async (c) => {
      runs++;
      beforeCase?.(c);
      outcomes[await target.run(c)]++;
    }),
    { numRuns, seed },
  );
  if (!result.failed) return { runs, outcomes };
  const err = result.errorInstance;
  return {
    runs,
    outcomes,
    failure: {
      target: target.name,
      seed,
      path: result.counterexamplePath,
      error: err instanceof Error ? err.message : String(err),
      case: result.counterexample?.[0] ?? null,
      found: new Date().toISOString(),
    },
  };
}

/** Write a regression file; returns its path. */
export function writeRegression(r: Regression, dir = REGRESSIONS_DIR): string {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const file = join(dir, `${r.target}-${r.seed}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

/** Every regression file: [file name, contents]. */
export function loadRegressions(dir = REGRESSIONS_DIR): Array<[string, Regression]> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Regression]);
}

/** Replay one regression: resolves to the outcome, throws if the oracle still fails. */
export async function replay(r: Regression): Promise<Outcome> {
  return targetNamed(r.target).run(r.case);
}
