import type { FrameOffload, FrameSink } from './net-backend.js';

/**
 * A NIC device's side of the burst hand-off ({@link FrameSink.deliver}'s `more`): the frames of
 * one drain pass go to the backend port with `more`, and {@link end} flushes the port when the
 * pass ends, however it ends (call it from a `finally`). A port that changes mid-pass (the
 * backend was swapped) gets its burst ended before the new one takes frames. Allocates nothing
 * per frame.
 */
export class PortBurst {
  /** The port the open burst went to, or undefined when none is open. */
  private port: FrameSink | undefined;

  /** Hand one frame of the pass to `port`, with `more`. Returns what the port answered. */
  deliver(port: FrameSink, frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    if (port !== this.port) {
      this.end();
      this.port = port;
    }
    return port.deliver(frame, offload, true);
  }

  /** End the open burst: flush its port (nothing if none is open). */
  end(): void {
    const port = this.port;
    if (port === undefined) return;
    this.port = undefined;
    port.flush?.();
  }
}
