import type { RandomSource } from '@vbus/core';

/**
 * A reproducible {@link RandomSource} (xorshift32, NOT cryptographic): bind it in the container
 * for tests and simulations whose traces must repeat, never for a guest that needs real entropy.
 */
export function seededRandomSource(seed: number): RandomSource {
  let x = seed >>> 0 || 1;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      into[i] = x & 0xff;
    }
  };
}
