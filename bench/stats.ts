/** The q-quantile (0..1) of the samples, nearest rank. */
export function percentile(samples: ArrayLike<number>, q: number): number {
  const a = Float64Array.from(samples).sort();
  if (a.length === 0) return NaN;
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))]!;
}

/** The median of the samples (mean of the middle two for an even count); NaN when empty. */
export function median(samples: ArrayLike<number>): number {
  const a = Float64Array.from(samples).sort();
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** Median, lowest and highest of a set of repeated measurements. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every measurement, in run order. */
  runs: number[];
}

export function summarize(runs: number[]): Summary {
  return { median: median(runs), min: runs.length ? Math.min(...runs) : NaN, max: runs.length ? Math.max(...runs) : NaN, runs };
}
