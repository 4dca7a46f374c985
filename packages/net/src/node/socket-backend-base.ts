import { EventEmitter } from 'eventemitter3';
import type { FrameOffload, FrameSink, NetBackend, NetBackendPort, NicInfo } from '../common/backend/net-backend.js';
import { needsSoftwareOffload, SoftwareOffload } from '../common/backend/offload.js';
import { BackendPort } from '../common/backend/port.js';

/** The counters every socket backend keeps (each backend adds its own). */
export interface SocketBackendCounters {
  /** Frames and bytes received from the peer and sent to it. */
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames from the peer with no NIC attached to take them. */
  dropsNoNic: number;
  /** Frames to the peer that could not be sent (no peer, or its socket is backed up). */
  dropsNoPeer: number;
}

/** Fresh zeroed {@link SocketBackendCounters}, for a backend to spread into its own counters. */
export function newSocketBackendCounters(): SocketBackendCounters {
  return { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropsNoNic: 0, dropsNoPeer: 0 };
}

/**
 * What the QEMU socket backends share: one attached NIC, frames from the peer counted and handed
 * to it, frames to the peer completed in software (offload) and then sent by {@link send}.
 */
export abstract class SocketBackendBase<Events extends EventEmitter.ValidEventTypes, Counters extends SocketBackendCounters> extends EventEmitter<Events> implements NetBackend {
  abstract readonly kind: string;
  abstract readonly name: string;
  abstract readonly counters: Counters;
  readonly offload = new SoftwareOffload();
  /** The attached NIC's port, if any. */
  protected port: BackendPort | undefined;
  private sink: FrameSink | undefined;
  protected closed = false;
  // segments completed in software are sent each without more (which ends an open burst with it)
  private readonly wire: FrameSink = { deliver: (f) => this.send(f, false) };

  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort {
    const port = BackendPort.forSingleNic(
      this.name,
      this.port,
      nic,
      (frame, offload, p, more) => this.toPeer(p, frame, offload, more),
      (p) => {
        if (this.port === p) {
          this.port = undefined;
          this.sink = undefined;
        }
      },
      () => this.endBurst(),
    );
    this.port = port;
    this.sink = toNic;
    return port;
  }

  abstract close(): Promise<void>;

  /**
   * Send one complete frame to the peer; count it with {@link countOut} or in `dropsNoPeer`.
   * `more`: the NIC sends another frame, or ends the burst ({@link endBurst}), before its
   * synchronous run ends ({@link FrameSink.deliver}); a backend may hold the frame until then.
   */
  protected abstract send(frame: Uint8Array, more: boolean): boolean;

  /** The NIC's burst ended: send what {@link send} held. Default: nothing is held. */
  protected endBurst(): void {}

  /**
   * A frame arrived from the peer: count it and hand it to the NIC. `more`: it came with others
   * in one read, and {@link endPeerBurst} follows when they are all handed over, so the NIC
   * signals its guest once for them ({@link FrameSink.deliver}).
   */
  protected fromPeer(frame: Uint8Array, more = false): void {
    const c = this.counters;
    c.framesIn++;
    c.bytesIn += frame.length;
    const port = this.port;
    const sink = this.sink;
    if (port === undefined || sink === undefined) {
      c.dropsNoNic++;
      return;
    }
    port.toNic(sink, frame, undefined, more);
  }

  /** The frames of one read from the peer have been handed over: end the NIC's burst. */
  protected endPeerBurst(): void {
    this.sink?.flush?.();
  }

  /** Count a frame sent to the peer. */
  protected countOut(frame: Uint8Array): void {
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
  }

  private toPeer(port: BackendPort, frame: Uint8Array, offload: FrameOffload | undefined, more: boolean): boolean {
    if (!needsSoftwareOffload(offload)) {
      if (this.send(frame, more)) return true;
      port.counters.drops++;
      return false;
    }
    const errors = this.offload.stats.errors;
    const drops = this.counters.dropsNoPeer;
    if (this.offload.process(frame, offload, this.wire)) return true;
    if (this.offload.stats.errors !== errors || this.counters.dropsNoPeer !== drops) port.counters.drops++;
    return false;
  }
}
