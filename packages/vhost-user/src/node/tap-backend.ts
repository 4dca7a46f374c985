import { BackendPort, type FrameOffload, type FrameSink, type NetBackend, type NetBackendPort, type NicInfo } from '@vbus/net';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_SIZE,
  decodeNetHeader,
  emptyNetHeader,
  encodeNetHeader,
} from '@vbus/virtio-compat';
import { native, POLL_READABLE, type VbusNative } from './native.js';

/** TUNSETOFFLOAD bits (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;

/** Largest frame a TAP read returns with offloads off: the MTU-sized frame of a 64 KiB interface. */
const MAX_FRAME = 65536 + 4096;

/** Counters of a {@link TapBackend}. */
export interface TapCounters {
  /** Frames and bytes read from the kernel and written to it. */
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames from the kernel with no NIC attached. */
  dropsNoNic: number;
  /** Frames to the kernel that could not be written (its queue is full, or the TAP is gone). */
  dropsNoPeer: number;
  /** Frames that crossed with checksum metadata (NEEDS_CSUM) instead of a completed checksum: from the kernel, to the kernel. */
  csumPartialIn: number;
  csumPartialOut: number;
  /** Reads the backend refused: shorter than the vnet header plus an Ethernet header, or a header that does not fit the frame. */
  badFrames: number;
}

/** Options of {@link TapBackend.open}. */
export interface TapOptions {
  /**
   * Let the kernel hand us frames whose L4 checksum is still to be done (TUN_F_CSUM): the
   * checksum metadata travels in the vnet header and on to NICs that accept it, as vhost-net
   * does. Default true.
   */
  readonly checksumOffload?: boolean;
}

/**
 * The host kernel's network stack as a backend ("venet-tap"): a TAP interface opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR. Every frame carries a 12-byte virtio-net header both ways,
 * so checksum metadata passes through instead of being completed in software: a frame from the
 * NIC with NEEDS_CSUM goes to the kernel as it is (the kernel completes it), and with
 * {@link TapOptions.checksumOffload} the kernel may send partial checksums to us. One NIC (or a
 * switch, through a patch cable) attaches.
 */
export class TapBackend implements NetBackend {
  readonly kind = 'tap';
  readonly counters: TapCounters = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropsNoNic: 0, dropsNoPeer: 0, badFrames: 0, csumPartialIn: 0, csumPartialOut: 0 };
  private port: BackendPort | undefined;
  private sink: FrameSink | undefined;
  private readonly poll: number;
  private readonly rx = new Uint8Array(VIRTIO_NET_HDR_SIZE + MAX_FRAME);
  private readonly tx = new Uint8Array(VIRTIO_NET_HDR_SIZE + MAX_FRAME);
  private readonly hdr = emptyNetHeader();
  private closed = false;

  private constructor(
    private readonly n: VbusNative,
    private readonly fd: number,
    /** The interface's name as the kernel made it. */
    readonly name: string,
  ) {
    this.poll = n.poll(fd, POLL_READABLE, () => this.readable());
  }

  /** Open (or create) TAP interface `name`. Needs CAP_NET_ADMIN. */
  static open(name: string, options: TapOptions = {}): TapBackend {
    const n = native();
    const { fd, name: actual } = n.tapOpen(name, true);
    try {
      n.tapSetVnetHdrSize(fd, VIRTIO_NET_HDR_SIZE);
      n.tapSetOffload(fd, options.checksumOffload === false ? 0 : TUN_F_CSUM);
    } catch (e) {
      n.close(fd);
      throw e;
    }
    return new TapBackend(n, fd, actual);
  }

  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort {
    const port = BackendPort.forSingleNic(
      this.name,
      this.port,
      nic,
      (frame, offload, p) => this.write(p, frame, offload),
      (p) => {
        if (this.port === p) {
          this.port = undefined;
          this.sink = undefined;
        }
      },
    );
    this.port = port;
    this.sink = toNic;
    return port;
  }

  /** A frame from the NIC: its offload metadata as the vnet header, then the frame. */
  private write(port: BackendPort, frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    if (this.closed || frame.length > MAX_FRAME) {
      this.counters.dropsNoPeer++;
      port.counters.drops++;
      return false;
    }
    const h = this.hdr;
    h.flags = offload?.needsCsum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h.gsoType = offload ? offload.gsoType | (offload.ecn ? VIRTIO_NET_HDR_GSO_ECN : 0) : VIRTIO_NET_HDR_GSO_NONE;
    h.hdrLen = offload?.hdrLen ?? 0;
    h.gsoSize = offload?.gsoSize ?? 0;
    h.csumStart = offload?.needsCsum ? offload.csumStart : 0;
    h.csumOffset = offload?.needsCsum ? offload.csumOffset : 0;
    h.numBuffers = 0;
    encodeNetHeader(h, this.tx);
    this.tx.set(frame, VIRTIO_NET_HDR_SIZE);
    const len = VIRTIO_NET_HDR_SIZE + frame.length;
    let wrote: number;
    try {
      wrote = this.n.write(this.fd, this.tx.subarray(0, len));
    } catch {
      // the kernel refused the frame (EINVAL: a header it does not accept): a drop, not an exception
      wrote = -1;
    }
    if (wrote !== len) {
      this.counters.dropsNoPeer++;
      port.counters.drops++;
      return false;
    }
    this.counters.framesOut++;
    if (offload?.needsCsum) this.counters.csumPartialOut++;
    this.counters.bytesOut += frame.length;
    return true;
  }

  private readable(): void {
    // a bounded batch per wakeup: the poll fires again while frames wait
    for (let i = 0; i < 64 && !this.closed; i++) {
      const got = this.n.read(this.fd, this.rx);
      if (got < 0) return;
      if (got < VIRTIO_NET_HDR_SIZE + 14) {
        this.counters.badFrames++;
        continue;
      }
      const h = decodeNetHeader(this.rx, this.hdr);
      const frame = this.rx.subarray(VIRTIO_NET_HDR_SIZE, got);
      let offload: FrameOffload | undefined;
      if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 || (h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) {
        // the kernel is the peer here, but a header that points outside the frame is still refused
        if (h.csumStart + h.csumOffset + 2 > frame.length) {
          this.counters.badFrames++;
          continue;
        }
        offload = {
          needsCsum: (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0,
          csumStart: h.csumStart,
          csumOffset: h.csumOffset,
          gsoType: h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN,
          gsoSize: h.gsoSize,
          hdrLen: h.hdrLen,
          ecn: (h.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0,
        };
      }
      this.counters.framesIn++;
      if (offload?.needsCsum) this.counters.csumPartialIn++;
      this.counters.bytesIn += frame.length;
      const port = this.port;
      const sink = this.sink;
      if (port === undefined || sink === undefined) this.counters.dropsNoNic++;
      else port.toNic(sink, frame, offload);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port?.disconnect();
    this.n.pollStop(this.poll);
    this.n.close(this.fd);
  }
}
