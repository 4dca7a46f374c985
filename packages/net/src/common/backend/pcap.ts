/**
 * pcap encoding (the classic libpcap format that tcpdump, Wireshark and tshark read), pure and
 * environment-neutral. Headers are written little-endian; readers tell the byte order from the
 * magic number.
 *
 * - global header, 24 bytes: magic u32 + version_major u16 + version_minor u16 + thiszone i32 +
 *   sigfigs u32 + snaplen u32 + network (linktype) u32
 * - record header, 16 bytes: ts_sec u32 + ts_usec u32 + incl_len u32 + orig_len u32, then
 *   incl_len bytes of the frame
 */
import { le, type Clock } from '@vbus/core';
import type { FrameOffload, FrameSink } from './net-backend.js';
import { needsSoftwareOffload, SoftwareOffload } from './offload.js';

/** pcap magic with microsecond timestamps. */
export const PCAP_MAGIC = 0xa1b2c3d4;
/** pcap file format major version written in the file header. */
export const PCAP_VERSION_MAJOR = 2;
/** pcap file format minor version written in the file header. */
export const PCAP_VERSION_MINOR = 4;
/** Largest number of bytes kept of each frame. */
export const PCAP_SNAPLEN = 65535;
/** LINKTYPE_ETHERNET. */
export const PCAP_LINKTYPE_ETHERNET = 1;
/** Size of the global header. */
export const PCAP_GLOBAL_HEADER_LEN = 24;
/** Size of each record header. */
export const PCAP_RECORD_HEADER_LEN = 16;

/** The 24-byte global header. */
export function encodePcapGlobalHeader(snaplen = PCAP_SNAPLEN, linktype = PCAP_LINKTYPE_ETHERNET): Uint8Array {
  const h = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  le.setU32(h, 0, PCAP_MAGIC);
  le.setU16(h, 4, PCAP_VERSION_MAJOR);
  le.setU16(h, 6, PCAP_VERSION_MINOR);
  le.setU32(h, 8, 0); // thiszone: UTC
  le.setU32(h, 12, 0); // sigfigs
  le.setU32(h, 16, snaplen);
  le.setU32(h, 20, linktype);
  return h;
}

/**
 * One record (header and the captured bytes) for a frame seen at `timeMs` (ms since the epoch,
 * fractions kept to the microsecond). Frames longer than `snaplen` are cut, orig_len keeps the
 * real length.
 */
export function encodePcapRecord(frame: Uint8Array, timeMs: number, snaplen = PCAP_SNAPLEN): Uint8Array {
  const incl = Math.min(frame.length, snaplen);
  const r = new Uint8Array(PCAP_RECORD_HEADER_LEN + incl);
  let sec = Math.floor(timeMs / 1000);
  let usec = Math.round((timeMs - sec * 1000) * 1000);
  if (usec >= 1_000_000) {
    sec += 1;
    usec -= 1_000_000;
  }
  le.setU32(r, 0, sec >>> 0);
  le.setU32(r, 4, usec);
  le.setU32(r, 8, incl);
  le.setU32(r, 12, frame.length);
  r.set(frame.subarray(0, incl), PCAP_RECORD_HEADER_LEN);
  return r;
}

/**
 * Receives the bytes of a pcap stream. The writer owns each array it is given (it may keep it).
 * It may return false (exactly) to refuse a record (it is behind): the tap counts it in `dropped` and the
 * stream stays valid (whole records only). The global header must not be refused.
 */
export type PcapByteWriter = (bytes: Uint8Array) => unknown;

/** The system's wall clock in ms since the epoch, monotonic within the process (timeOrigin + performance.now()). */
const wallClock: Clock = { now: () => performance.timeOrigin + performance.now() };

/** Options of a {@link PcapTap}. */
export interface PcapTapOptions {
  /** A sink each frame is passed on to after it is recorded (the tap then wraps it). */
  inner?: FrameSink;
  /**
   * The clock of record timestamps, read as ms since the Unix epoch. Default: the system's
   * (`performance.timeOrigin + performance.now()`). A virtual clock makes a capture reproducible
   * byte for byte (its time 0 is written as the epoch).
   */
  clock?: Clock;
  snaplen?: number;
}

/**
 * A FrameSink that records each frame as pcap through a byte writer, then passes it on to an
 * inner sink if there is one (and returns what it returns; true without one). The global header
 * is written when the tap is made. Frames with offload metadata are recorded as the plain
 * frames they stand for (checksums completed, GSO super-frames segmented), so the capture is
 * what a wire would carry; the inner sink receives the original frame and metadata.
 */
export class PcapTap implements FrameSink {
  /** Records and bytes written (header included). */
  records = 0;
  bytes = 0;
  /** Records the writer refused because it was behind (as libpcap's ps_drop). */
  dropped = 0;
  private readonly inner: FrameSink | undefined;
  private readonly clock: Clock;
  private readonly snaplen: number;
  private readonly offload = new SoftwareOffload();
  private readonly recorder: FrameSink = { deliver: (f) => this.record(f) };
  private closed = false;

  constructor(
    private readonly write: PcapByteWriter,
    options: PcapTapOptions = {},
  ) {
    this.inner = options.inner;
    this.clock = options.clock ?? wallClock;
    this.snaplen = options.snaplen ?? PCAP_SNAPLEN;
    const h = encodePcapGlobalHeader(this.snaplen);
    this.bytes += h.length;
    write(h);
  }

  deliver(frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean {
    if (!this.closed) {
      if (needsSoftwareOffload(offload)) this.offload.process(frame, offload, this.recorder);
      else this.record(frame);
    }
    return this.inner === undefined ? true : this.inner.deliver(frame, offload, more);
  }

  /** Pass the end of a burst on to the inner sink ({@link FrameSink.flush}); records are never held. */
  flush(): void {
    this.inner?.flush?.();
  }

  /** Stop recording; frames still pass through to the inner sink. */
  stop(): void {
    this.closed = true;
  }

  private record(frame: Uint8Array): boolean {
    const r = encodePcapRecord(frame, this.clock.now(), this.snaplen);
    if (this.write(r) === false) {
      this.dropped++;
      return true; // a capture drop, not the frame's: the frame itself goes on
    }
    this.records++;
    this.bytes += r.length;
    return true;
  }
}

/** Wrap a sink so that every frame delivered to it is also recorded by `tap` (which must have no inner sink). */
export function tapSink(sink: FrameSink, tap: FrameSink): FrameSink {
  return {
    deliver(frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean {
      tap.deliver(frame, offload);
      return sink.deliver(frame, offload, more);
    },
    flush(): void {
      sink.flush?.();
    },
  };
}
