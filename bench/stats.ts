/** The q-quantile (0..1) of the samples, nearest rank. */
export function percentile(samples: ArrayLike<number>, q: number): number {
  const a = Float64Array.from(samples).sort();
  if (a.length === 0) return NaN;
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))]!;
}
