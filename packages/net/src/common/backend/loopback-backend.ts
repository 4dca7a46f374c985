import type { FrameOffload, FrameSink, NetBackend, NetBackendPort, NicInfo } from './net-backend.js';
import { needsSoftwareOffload, SoftwareOffload } from './offload.js';
import { BackendPort } from './port.js';

/**
 * A backend that reflects every frame a NIC sends back to that same NIC, synchronously. Any
 * number of NICs may attach; each one only ever hears itself. Offloaded frames are completed in
 * software first for a NIC that does not accept offload metadata.
 */
export class LoopbackBackend implements NetBackend {
  readonly kind = 'loopback';
  readonly offload = new SoftwareOffload();
  private readonly live = new Set<BackendPort>();

  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort {
    const acceptsOffload = nic.acceptsOffload === true;
    // Made once per port, so the reflect path allocates nothing per frame.
    const plain: FrameSink = { deliver: (f) => port.toNic(toNic, f) };
    const port: BackendPort = new BackendPort(
      nic.name,
      (frame: Uint8Array, offload: FrameOffload | undefined): boolean => {
        if (acceptsOffload || !needsSoftwareOffload(offload)) return port.toNic(toNic, frame, acceptsOffload ? offload : undefined);
        const errors = this.offload.stats.errors;
        if (this.offload.process(frame, offload, plain)) return true;
        // A refused sink counted its drop in toNic; a frame the engine refused is counted here.
        if (this.offload.stats.errors !== errors) port.counters.drops++;
        return false;
      },
      (p) => this.live.delete(p),
    );
    this.live.add(port);
    return port;
  }

  async close(): Promise<void> {
    for (const p of [...this.live]) p.disconnect();
  }
}
