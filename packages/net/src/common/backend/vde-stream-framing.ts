/**
 * The VDE stream framing: what `vde_plug` reads on stdin and writes on stdout, and what `dpipe`
 * and ssh carry between two plugs (libvdeplug's `vdestream_send`/`vdestream_recv`): every
 * Ethernet frame is a 2-byte big-endian length followed by that many bytes. A length of 0 is
 * skipped; a length above {@link VDE_STREAM_MAX_FRAME} is a framing error (libvdeplug stops
 * reading the chunk; we stop reading the stream). Pure and environment-neutral.
 */

/** Length prefix: u16 big-endian. */
export const VDE_STREAM_PREFIX_LEN = 2;
/** The largest frame a VDE stream carries: libvdeplug's MAXPACKET, 1521 bytes. */
export const VDE_STREAM_MAX_FRAME = 1521;

/** Prefix `frame` with its length, into a fresh array (streams keep what they are given). */
export function encodeVdeStreamFrame(frame: Uint8Array): Uint8Array {
  if (frame.length > VDE_STREAM_MAX_FRAME) throw new RangeError(`a VDE stream frame is at most ${VDE_STREAM_MAX_FRAME} bytes, got ${frame.length}`);
  const out = new Uint8Array(VDE_STREAM_PREFIX_LEN + frame.length);
  out[0] = frame.length >>> 8;
  out[1] = frame.length & 0xff;
  out.set(frame, VDE_STREAM_PREFIX_LEN);
  return out;
}

/**
 * Reassembles frames from stream chunks of any size, including a length prefix split across two
 * chunks (which libvdeplug itself loses). Each frame is handed out as a view (of the chunk, or of a reused buffer)
 * valid only during the `onFrame` call. After a length above the maximum the deframer is broken:
 * it calls `onError` once with the bad length and ignores everything after.
 */
export class VdeStreamDeframer {
  private readonly buf = new Uint8Array(VDE_STREAM_PREFIX_LEN + VDE_STREAM_MAX_FRAME);
  private have = 0;
  private broken = false;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly onError: (length: number) => void,
  ) {}

  /** Whether a bad length stopped the stream. */
  get isBroken(): boolean {
    return this.broken;
  }

  /** Feed bytes as they arrive from the stream; each complete frame goes to the frame callback. */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (!this.broken && off < chunk.length) {
      if (this.have < VDE_STREAM_PREFIX_LEN) {
        this.buf[this.have++] = chunk[off++]!;
        if (this.have < VDE_STREAM_PREFIX_LEN) continue;
        const len = (this.buf[0]! << 8) | this.buf[1]!;
        if (len > VDE_STREAM_MAX_FRAME) {
          this.broken = true;
          this.onError(len);
          return;
        }
        if (len === 0) this.have = 0;
        continue;
      }
      const len = (this.buf[0]! << 8) | this.buf[1]!;
      const want = VDE_STREAM_PREFIX_LEN + len - this.have;
      const take = Math.min(want, chunk.length - off);
      if (this.have === VDE_STREAM_PREFIX_LEN && take === len) {
        // the whole frame lies in this chunk: hand out a view of it
        this.have = 0;
        this.onFrame(chunk.subarray(off, off + len));
        off += len;
        continue;
      }
      this.buf.set(chunk.subarray(off, off + take), this.have);
      this.have += take;
      off += take;
      if (this.have === VDE_STREAM_PREFIX_LEN + len) {
        this.have = 0;
        this.onFrame(this.buf.subarray(VDE_STREAM_PREFIX_LEN, VDE_STREAM_PREFIX_LEN + len));
      }
    }
  }
}
