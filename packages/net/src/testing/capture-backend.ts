import { BackendPort } from '../common/backend/port.js';
import type { FrameOffload, FrameSink, NetBackend, NetBackendPort, NicInfo } from '../common/backend/net-backend.js';

/**
 * A backend for tests: keeps a copy of every frame a NIC sends (with its offload metadata and
 * whether it came with `more`), counts the bursts the NIC ended ({@link FrameSink.flush}), and
 * lets the test push frames toward the NIC with {@link inject}. One NIC at a time.
 */
export class CaptureBackend implements NetBackend {
  readonly kind = 'capture';
  readonly frames: { frame: Uint8Array; offload: FrameOffload | undefined; more: boolean }[] = [];
  /** Times the NIC flushed its port (ended a burst of frames sent with `more`). */
  flushes = 0;
  /** True from a frame sent with `more` until the NIC ends that burst (a frame without `more`, or a flush). */
  burstOpen = false;
  /** If false, frames the NIC sends are refused (the port counts the drop). */
  accept = true;
  port: BackendPort | undefined;
  private sink: FrameSink | undefined;

  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort {
    this.sink = toNic;
    this.port = new BackendPort(
      nic.name,
      (frame, offload, _port, more) => {
        this.burstOpen = more;
        if (!this.accept) {
          this.port!.counters.drops++;
          return false;
        }
        this.frames.push({ frame: frame.slice(), offload: offload ? { ...offload } : undefined, more });
        return true;
      },
      undefined,
      () => {
        this.flushes++;
        this.burstOpen = false;
      },
    );
    return this.port;
  }

  /**
   * Deliver a frame toward the NIC; returns what the NIC answered (false: dropped). With `more`
   * the frame is part of a burst that {@link endInjectBurst} (or a frame without `more`) ends.
   */
  inject(frame: Uint8Array, more = false): boolean {
    if (!this.port || !this.sink) return false;
    return this.port.toNic(this.sink, frame, undefined, more);
  }

  /** End a burst of frames injected with `more` (the NIC's sink is flushed). */
  endInjectBurst(): void {
    this.sink?.flush?.();
  }

  async close(): Promise<void> {
    this.port?.disconnect();
  }
}
