/**
 * QEMU's stream framing (`-netdev stream`, `-netdev socket` over TCP or a unix socket): every
 * Ethernet frame is a 4-byte big-endian length followed by that many bytes; no virtio-net
 * header. A length of 0 or above {@link QEMU_STREAM_MAX_FRAME} breaks the stream. Pure and
 * environment-neutral, so the node socket backend and any other transport share it.
 */
import { le } from '@vbus/core';

/** Length prefix: u32 big-endian. */
export const QEMU_STREAM_PREFIX_LEN = 4;
/** The largest frame QEMU accepts on a stream: NET_BUFSIZE, 4096 + 65536. */
export const QEMU_STREAM_MAX_FRAME = 4096 + 65536;

/** Prefix `frame` with its length, into a fresh array (sockets keep what they are given). */
export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(QEMU_STREAM_PREFIX_LEN + frame.length);
  le.setBE32(out, 0, frame.length);
  out.set(frame, QEMU_STREAM_PREFIX_LEN);
  return out;
}

/**
 * Reassembles frames from stream chunks of any size: one frame split over many chunks, many
 * frames in one chunk. A frame that lies whole inside a chunk is handed out as a view of the
 * chunk (no copy); a split one is gathered in a buffer that is reused. Either way the frame is
 * valid only during the `onFrame` call.
 */
export class StreamDeframer {
  private readonly header = new Uint8Array(QEMU_STREAM_PREFIX_LEN);
  private headerHave = 0;
  /** Length of the frame being gathered, or -1 while reading a prefix. */
  private want = -1;
  private body = new Uint8Array(2048);
  private bodyHave = 0;
  private broken = false;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly maxFrame = QEMU_STREAM_MAX_FRAME,
  ) {}

  /** Bytes of an incomplete frame (prefix included) held between chunks; 0 at a frame boundary. */
  get pending(): number {
    return this.want < 0 ? this.headerHave : QEMU_STREAM_PREFIX_LEN + this.bodyHave;
  }

  /**
   * Feed a chunk. Returns `undefined`, or the bad length when a prefix is 0 or too large; the
   * deframer then stays broken (the connection must be closed) and ignores further input.
   */
  push(chunk: Uint8Array): number | undefined {
    if (this.broken) return undefined;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.want < 0) {
        if (this.headerHave === 0 && n - i >= QEMU_STREAM_PREFIX_LEN) {
          this.want = le.getBE32(chunk, i);
          i += QEMU_STREAM_PREFIX_LEN;
        } else {
          while (i < n && this.headerHave < QEMU_STREAM_PREFIX_LEN) this.header[this.headerHave++] = chunk[i++]!;
          if (this.headerHave < QEMU_STREAM_PREFIX_LEN) break;
          this.want = le.getBE32(this.header, 0);
          this.headerHave = 0;
        }
        if (this.want === 0 || this.want > this.maxFrame) {
          this.broken = true;
          return this.want;
        }
        this.bodyHave = 0;
      }
      const need = this.want - this.bodyHave;
      if (this.bodyHave === 0 && n - i >= need) {
        // The whole frame is in this chunk: hand out a view.
        const frame = chunk.subarray(i, i + need);
        i += need;
        this.want = -1;
        this.onFrame(frame);
        continue;
      }
      if (this.body.length < this.want) this.body = new Uint8Array(Math.max(this.want, this.body.length * 2));
      const take = Math.min(need, n - i);
      this.body.set(chunk.subarray(i, i + take), this.bodyHave);
      this.bodyHave += take;
      i += take;
      if (this.bodyHave === this.want) {
        const frame = this.body.subarray(0, this.want);
        this.want = -1;
        this.bodyHave = 0;
        this.onFrame(frame);
      }
    }
    return undefined;
  }

  /** Forget any partial frame (a new connection starts at a frame boundary). */
  reset(): void {
    this.headerHave = 0;
    this.want = -1;
    this.bodyHave = 0;
    this.broken = false;
  }
}
