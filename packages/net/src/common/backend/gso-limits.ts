/**
 * Limits on GSO metadata from an untrusted guest. A GSO super-frame is one guest frame that the
 * host (the software offload engine) turns into many wire frames; without limits a guest asks
 * for a 64 KiB frame cut into 1-byte segments and makes the host build and forward 65 000
 * frames for one descriptor. These rules bound the fan-out: one guest frame never costs more than
 * {@link GSO_MAX_SEGMENTS} output frames.
 *
 * - {@link GSO_MIN_SIZE} 88: Linux's TCP_MIN_MSS (include/net/tcp.h). No Linux sender segments
 *   below it, so no legitimate guest is refused; for UFO the fragment step is the size rounded
 *   down to a multiple of 8, so 88 bytes too.
 * - {@link GSO_MAX_SEGMENTS} 128: a 64 KiB TCP frame at the IPv4 default MSS of 536 (RFC 9293
 *   §3.7.1) is 123 segments, so every sender whose MSS is at least 536 fits; Linux caps UDP GSO at
 *   the same 128 (UDP_MAX_SEGMENTS). A guest with a smaller MSS must send smaller super-frames.
 *
 * The count is an upper bound taken from the frame length and the smallest headers the GSO type
 * can have (TCPv4 14+20+20, TCPv6 14+40+20, UDP/IPv4 14+20 before the fragmented IP payload), so
 * it is cheap to check where a NIC takes the frame from its guest, before any parsing, and never
 * smaller than what the engine would produce.
 */

/** Smallest GSO size (MSS, or UFO fragment size) accepted from a guest: Linux's TCP_MIN_MSS. */
export const GSO_MIN_SIZE = 88;
/** Most frames one GSO super-frame may become. */
export const GSO_MAX_SEGMENTS = 128;

// virtio-net GSO type numbers (offload.ts holds the named constants; repeated here to keep this
// module free of imports: TCPV4 1, UDP 3, TCPV6 4, ECN flag 0x80)
const TCPV4 = 1;
const UDP = 3;
const TCPV6 = 4;

/** Smallest bytes before the segmented payload, per GSO type. */
function minHeaders(gsoType: number): number {
  if (gsoType === TCPV4) return 14 + 20 + 20;
  if (gsoType === TCPV6) return 14 + 40 + 20;
  return 14 + 20; // UDP: the IPv4 payload (UDP header included) is fragmented
}

/**
 * Upper bound of the frames a GSO super-frame of `frameLength` bytes becomes; 0 when the size is
 * not a positive integer (refused anyway). `gsoType` without the ECN flag.
 */
export function gsoSegmentBound(frameLength: number, gsoType: number, gsoSize: number): number {
  const step = gsoType === UDP ? Math.floor(gsoSize / 8) * 8 : gsoSize;
  if (!Number.isInteger(step) || step <= 0) return 0;
  return Math.max(1, Math.ceil((frameLength - minHeaders(gsoType)) / step));
}

/**
 * Why a GSO super-frame must be refused, or undefined when it is within the limits (also for
 * frames without GSO). Allocates only to explain a refusal.
 */
export function gsoRefusal(frameLength: number, gsoType: number, gsoSize: number): string | undefined {
  const t = gsoType & 0x7f;
  if (t === 0) return undefined;
  if (t !== TCPV4 && t !== TCPV6 && t !== UDP) return undefined; // the engine refuses unknown types itself
  if (!Number.isInteger(gsoSize) || gsoSize < GSO_MIN_SIZE) return `GSO size ${gsoSize} is below the minimum ${GSO_MIN_SIZE}`;
  const n = gsoSegmentBound(frameLength, t, gsoSize);
  if (n > GSO_MAX_SEGMENTS) return `GSO frame of ${frameLength} bytes at size ${gsoSize} would be up to ${n} segments, more than ${GSO_MAX_SEGMENTS}`;
  return undefined;
}
