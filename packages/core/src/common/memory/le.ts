/**
 * Little-endian number access on byte arrays: the one place where the project turns bytes into
 * numbers. Every ABI in docs/architecture.md is little-endian (virtio 1.x, IOQ, venet), except QEMU's
 * stream length prefix, which is big-endian and has its own helper. No allocation.
 */

/** Read a u8 at byte offset `o`. */
export function getU8(b: Uint8Array, o: number): number {
  return b[o]!;
}
/** Read a little-endian u16 at byte offset `o`. */
export function getU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
/** Read a little-endian u32 at byte offset `o`. */
export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
/**
 * A u64 as a number. Exact below 2^53; above that the result is still larger than any guest
 * address, so a bounds check on it fails as it should.
 */
export function getU64(b: Uint8Array, o: number): number {
  return getU32(b, o) + getU32(b, o + 4) * 0x1_0000_0000;
}
/** Read a little-endian u64 at byte offset `o` as a bigint (every value exact). */
export function getU64Big(b: Uint8Array, o: number): bigint {
  return BigInt(getU32(b, o)) | (BigInt(getU32(b, o + 4)) << 32n);
}
/** Write a u8 at byte offset `o`. */
export function setU8(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
}
/** Write a little-endian u16 at byte offset `o`. */
export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}
/** Write a little-endian u32 at byte offset `o`. */
export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
/** Store a non-negative integer below 2^53 as u64. */
export function setU64(b: Uint8Array, o: number, v: number): void {
  setU32(b, o, v >>> 0);
  setU32(b, o + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
}
/** Write a bigint as a little-endian u64 at byte offset `o`. */
export function setU64Big(b: Uint8Array, o: number, v: bigint): void {
  setU32(b, o, Number(v & 0xffff_ffffn));
  setU32(b, o + 4, Number((v >> 32n) & 0xffff_ffffn));
}
/** Big-endian u16/u32 for network headers and QEMU's stream framing. */
export function getBE16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
/** Read a big-endian u32 (network byte order) at byte offset `o`. */
export function getBE32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
/** Write a big-endian u16 (network byte order) at byte offset `o`. */
export function setBE16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
/** Write a big-endian u32 (network byte order) at byte offset `o`. */
export function setBE32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** True when the host stores multi-byte integers little-endian (every common Node and browser host). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
