// The backend of the bench's one-way device rows: the device hands every frame over as it would
// to a real backend (so it makes its private copy of the frame, as it must before anything reads
// it), and the sink reads the frame's first byte and counts it, as the ring baseline's consumer
// does with the frames it copies out. Without a backend the devices would drop each frame
// without copying it, doing less per frame than the ring they are compared with.
import type { FrameSink, NetBackend, NetBackendPort, NicInfo, PortCounters } from '@vbus/net';

export class SinkBackend implements NetBackend {
  readonly kind = 'bench-sink';
  /** Frames delivered, over every port. */
  frames = 0;
  /** A sum of first bytes, so the read is not optimized away. */
  check = 0;

  attach(nic: NicInfo, _toNic: FrameSink): NetBackendPort {
    const counters: PortCounters = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, drops: 0 };
    return {
      name: `sink/${nic.name}`,
      counters,
      deliver: (frame: Uint8Array): boolean => {
        counters.txFrames++;
        counters.txBytes += frame.length;
        this.frames++;
        this.check += frame[0]!;
        return true;
      },
      disconnect: (): void => {},
    };
  }

  async close(): Promise<void> {}
}
