import { ConfigError } from './errors.js';

/**
 * Refuse a config object with a key outside `known`: a typo such as `txCompletEvery` would
 * otherwise be ignored and its default used silently. The error names the key, its owner (a
 * device class, a backend kind), the closest known key if one is near, and the known keys.
 * A config that is not a plain object is left to the owner's own validation.
 */
export function checkConfigKeys(config: unknown, known: readonly string[], owner: string): void {
  if (config === null || config === undefined || typeof config !== 'object' || Array.isArray(config)) return;
  for (const key of Object.keys(config)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    const hint = near === undefined ? '' : `; did you mean "${near}"?`;
    throw new ConfigError(key, (config as Record<string, unknown>)[key], `is not a config key of ${owner}${hint} (known: ${known.join(', ') || 'none'})`);
  }
}

/** The known key within edit distance 2 of `key` (case-insensitive), if exactly one is nearest. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** Levenshtein distance (config keys are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
