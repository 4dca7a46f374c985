import { newPortCounters, type FrameOffload, type FrameSink, type NetBackendPort, type NicInfo, type PortCounters } from './net-backend.js';
import { NetError } from './net-error.js';

/**
 * A port whose transmit path is a function supplied by its backend. Counts what the NIC sends
 * (txFrames/txBytes) and refuses, counting a drop, once disconnected. Backends deliver toward
 * the NIC through {@link BackendPort.toNic}, which counts rxFrames/rxBytes or a drop.
 */
export class BackendPort implements NetBackendPort {
  readonly counters: PortCounters = newPortCounters();
  private connected = true;
  /** Times the NIC's sink threw instead of returning (each counted as a drop). */
  sinkErrors = 0;
  /** The last error the NIC's sink threw. */
  lastSinkError: unknown;

  constructor(
    readonly name: string,
    /**
     * Carries a frame the NIC sent; returns false if it was not delivered. The backend counts the
     * drop where it happened (on this port when the frame could not leave, on the destination
     * port when the destination refused it), so that nothing is counted twice.
     */
    private readonly transmit: (frame: Uint8Array, offload: FrameOffload | undefined, port: BackendPort, more: boolean) => boolean,
    private readonly onDisconnect?: (port: BackendPort) => void,
    /** Ends a burst the NIC sent with `more` ({@link FrameSink.flush}); absent: the backend puts nothing off. */
    onFlush?: (port: BackendPort) => void,
  ) {
    if (onFlush !== undefined) this.flush = (): void => onFlush(this);
  }

  /**
   * The port of a backend that serves one NIC at a time (a socket, a TAP): refuses a second NIC
   * while `current` is connected (NetError 'busy' naming both), else makes the NIC's port.
   */
  static forSingleNic(
    backend: string,
    current: BackendPort | undefined,
    nic: NicInfo,
    transmit: (frame: Uint8Array, offload: FrameOffload | undefined, port: BackendPort, more: boolean) => boolean,
    onDisconnect: (port: BackendPort) => void,
    onFlush?: (port: BackendPort) => void,
  ): BackendPort {
    if (current?.isConnected) throw new NetError(backend, 'busy', nic.name, `already attached to ${current.name}`);
    return new BackendPort(nic.name, transmit, onDisconnect, onFlush);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  deliver(frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean {
    const c = this.counters;
    if (!this.connected) {
      c.drops++;
      return false;
    }
    c.txFrames++;
    c.txBytes += frame.length;
    return this.transmit(frame, offload, this, more === true);
  }

  /**
   * End a burst the NIC sent with `more` ({@link FrameSink.flush}). Present only when the
   * backend puts work off until then; done even once disconnected, so nothing stays held.
   */
  flush?: () => void;

  /**
   * Hand a frame to the NIC's sink, counting rxFrames/rxBytes or a drop. Used by the backend.
   * A disconnected port refuses (counted as a drop).
   */
  toNic(sink: FrameSink, frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean {
    const c = this.counters;
    let ok = false;
    if (this.connected) {
      try {
        ok = sink.deliver(frame, offload, more);
      } catch (err) {
        // A sink that throws must not break the backend (a flood to other ports, a socket's
        // data handler): the frame counts as dropped and the error is kept for introspection.
        this.sinkErrors++;
        this.lastSinkError = err;
      }
    }
    if (ok) {
      c.rxFrames++;
      c.rxBytes += frame.length;
      return true;
    }
    c.drops++;
    return false;
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.onDisconnect?.(this);
  }
}
