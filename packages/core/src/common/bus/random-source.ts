/**
 * Where randomness comes from (default MAC addresses, for now): a replaceable service, bound in
 * the container under {@link RandomSource}. An embedder that wants reproducible runs rebinds it
 * to a seeded source before the plugins' device classes are made.
 */
export type RandomSource = (into: Uint8Array) => void;

/** Inversify token for the {@link RandomSource}. */
export const RandomSource = Symbol.for('vbus-ts.RandomSource');

/** The default: the platform's `crypto.getRandomValues`. */
export const cryptoRandomSource: RandomSource = (into) => {
  crypto.getRandomValues(into);
};
