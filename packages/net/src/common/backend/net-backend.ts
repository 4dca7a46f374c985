/**
 * The host side of a NIC ("venet-tap"): one interface that serves every NIC front end (venet,
 * virtio-net, and any plugin a user writes). This is the merge vbus's author asked for: the
 * device model knows rings and signals; the backend knows only Ethernet frames.
 *
 * Ownership rule for the hot path: a frame passed to {@link FrameSink.deliver} is valid only for
 * the duration of the call. A sink that keeps it must copy it. This lets a NIC hand out a view
 * straight into guest memory and lets the switch forward without allocating.
 */

/** Offload metadata that may travel with a frame (venet SG flags, virtio-net header). */
export interface FrameOffload {
  /** NEEDS_CSUM: the L4 checksum at csumStart+csumOffset must still be computed. */
  needsCsum: boolean;
  csumStart: number;
  csumOffset: number;
  /** GSO type in virtio-net's numbering: NONE 0, TCPV4 1, UDP 3, TCPV6 4 (ECN flag 0x80 separate). */
  gsoType: number;
  gsoSize: number;
  hdrLen: number;
  ecn: boolean;
}

/**
 * Something that accepts Ethernet frames. `deliver` is the one verb for a frame arriving at a
 * sink: a backend port taking a frame from its NIC, a NIC device or a responder taking one from
 * its backend. Guest drivers do not deliver: they `send` (see `GuestNic`).
 */
export interface FrameSink {
  /**
   * Take one frame. Returns false if it was dropped (and the sink counted the drop).
   * `offload` is absent for a plain, complete frame. Both are valid only during the call (NICs
   * hand in views of reused buffers and a reused offload object): a sink that keeps them copies.
   *
   * `more` (Linux's xmit_more): the caller promises that, before its synchronous run ends, it
   * delivers another frame to this sink or calls {@link FrameSink.flush}. A sink with `flush`
   * may then put off work it does once per burst until the burst ends (a deliver without `more`,
   * or `flush`): a socket backend writes the burst with one system call, the learning switch
   * reads its clock once. A sink without `flush` ignores it. A caller that cannot promise it
   * (it does not know whether another frame follows) passes nothing; the NICs pass it for every
   * frame of a drain pass and flush after the pass.
   */
  deliver(frame: Uint8Array, offload?: FrameOffload, more?: boolean): boolean;
  /**
   * End a burst of frames delivered with `more`: whatever the sink put off is done now (a frame
   * it holds is sent, or dropped and counted). Calling it with no burst open does nothing.
   */
  flush?(): void;
}

/** Counters that every port keeps; shown in the bus introspection. */
export interface PortCounters {
  /** Frames and bytes the NIC sent into the backend. */
  txFrames: number;
  txBytes: number;
  /** Frames and bytes the backend delivered toward the NIC. */
  rxFrames: number;
  rxBytes: number;
  /** Frames the backend could not deliver (NIC refused: rx ring full, link down) or could not send. */
  drops: number;
}

/** A NIC's attachment to a backend. The NIC transmits by calling `deliver`. */
export interface NetBackendPort extends FrameSink {
  readonly name: string;
  readonly counters: PortCounters;
  /** Detach from the backend; later deliveries are refused and counted as drops. */
  disconnect(): void;
}

/** Description of the NIC being attached. */
export interface NicInfo {
  /** A name for introspection and pcap, e.g. `"bus0/venet0"`. */
  name: string;
  /** The NIC's MAC address (6 bytes). */
  mac: Uint8Array;
  /** Whether the NIC accepts frames with offload metadata; if false the backend completes checksums first. */
  acceptsOffload?: boolean;
  /**
   * The attachment carries frames of many hosts (a socket backend, a patch cable), not one NIC's:
   * a switch does not restrict its source MACs to `mac` (port security applies to NIC ports).
   */
  uplink?: boolean;
}

/** A host-side backend: a loopback, a switch, a socket to QEMU, a pcap tap... */
export interface NetBackend {
  readonly kind: string;
  /** Attach a NIC. `toNic` receives frames for the guest. Returns the port the NIC transmits into. */
  attach(nic: NicInfo, toNic: FrameSink): NetBackendPort;
  /** Release sockets and files; ports become disconnected. */
  close(): Promise<void>;
}

/** Inversify token under which net backends are bound. */
export const NetBackend = Symbol.for('vbus-ts.NetBackend');

/** Fresh zeroed counters. */
export function newPortCounters(): PortCounters {
  return { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, drops: 0 };
}
