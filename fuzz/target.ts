/**
 * A fuzz target: a fast-check arbitrary that builds a nearly valid structure and then corrupts
 * it, and a `run` that plays one case and applies the oracle (throwing {@link OracleFailure}).
 * Cases are plain JSON (numbers, strings, booleans, arrays), so that a shrunk counterexample can
 * be written to fuzz/regressions/ and replayed as it is.
 */
import type fc from 'fast-check';

/** How a case ended, for the per-target figures. */
export type Outcome = 'progress' | 'failed' | 'refused';

export interface FuzzTarget<C = unknown> {
  readonly name: string;
  readonly description: string;
  arbitrary(): fc.Arbitrary<C>;
  /** Play one case; resolves to how it ended, throws OracleFailure when the oracle is broken. */
  run(c: C): Promise<Outcome>;
}

/** Define a target with its case type checked. */
export function target<C>(t: FuzzTarget<C>): FuzzTarget<unknown> {
  return t as unknown as FuzzTarget<unknown>;
}
