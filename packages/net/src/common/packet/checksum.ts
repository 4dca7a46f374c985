/**
 * The internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sums (RFC 768, RFC 8200 8.1).
 */

/**
 * Add bytes [start, end) to a running ones'-complement sum as 16-bit big-endian words (an odd
 * final byte is padded with zero). The result is not folded; pass it to {@link foldSum}.
 * Stays exact for any frame below 2^37 bytes.
 */
export function onesSum(b: Uint8Array, start: number, end: number, acc = 0): number {
  let sum = acc;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Fold a ones'-complement sum to 16 bits (end-around carry), not inverted. */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The internet checksum of bytes [start, end) plus `initial`: the inverted folded sum. */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  return ~foldSum(onesSum(b, start, end, initial)) & 0xffff;
}

/** The unfolded sum of an IPv4 pseudo-header (src, dst, zero, protocol, L4 length). */
export function pseudoSumV4(b: Uint8Array, ipOffset: number, protocol: number, l4Length: number): number {
  return onesSum(b, ipOffset + 12, ipOffset + 20, protocol + l4Length);
}

/** The unfolded sum of an IPv6 pseudo-header (src, dst, L4 length u32, next header). */
export function pseudoSumV6(b: Uint8Array, ipOffset: number, protocol: number, l4Length: number): number {
  return onesSum(b, ipOffset + 8, ipOffset + 40, protocol + (l4Length & 0xffff) + Math.floor(l4Length / 0x10000));
}
