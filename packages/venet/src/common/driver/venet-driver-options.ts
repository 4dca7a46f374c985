import type { NicSendOptions } from '@vbus/net';

/** Options of {@link VenetDriver.open}. */
export interface VenetDriverOptions {
  /** RX and TX ring size (default 256). */
  ringSize?: number;
  /** Bytes per rx and tx buffer (default 2048: MTU 1500 + headers). */
  bufferSize?: number;
  /** NAPI weight: frames per poll before yielding with conn.defer (default 128). */
  pollWeight?: number;
  /**
   * Empty rx polls, one per turn of the guest's loop, before rx interrupts are unmasked again
   * (0 to 1024, default 0: unmask as soon as the ring is drained). While it polls, the device
   * delivers without interrupting (`NapiPoll`).
   */
  rxPollTurns?: number;
  /**
   * SG group bits to request. Default 0: plain descriptors (ptr/len of one buffer), the cheapest
   * transmit path (measured: 4.6 M against 2.9 M 64-byte frames/s over the worker connector).
   * Request VENET_CAP_SG (with TSO4, TSO6, ECN, UFO, PMTD as needed) to send checksum or GSO
   * offload metadata and multi-segment frames as scatter-gather descriptors; without SG,
   * {@link VenetDriver.sendv} gathers the parts into one buffer and refuses offload metadata.
   */
  sg?: number;
  /**
   * EVENTQ group bits to request (default LINKSTATE; 0 for no event queue). TXC (a tx-complete
   * event per frame, carrying its cookie) is for drivers that must know exactly which frame
   * completed (zero-copy transmit); this driver copies into its own buffers and reclaims them
   * from the ring, so it does not need the extra event per frame.
   */
  eventq?: number;
  /** Most segments in one {@link VenetDriver.sendv} (default 8). */
  maxSegments?: number;
  /** Event ring size (default 64). */
  eventRingSize?: number;
  /** The MTU the guest stack uses (default 1500): venet's ABI carries none, the host config's must match. */
  mtu?: number;
}

/** What the driver counts. */
export interface VenetDriverCounters {
  sent: number;
  received: number;
  /** Bytes of the frames sent and received. */
  txBytes: number;
  rxBytes: number;
  /** Sends refused because every tx buffer was in flight. */
  txBusy: number;
  /** Tx-complete signals (or TXC event batches) handled. */
  txCompletes: number;
  /** Rx signals taken (NAPI entries) and polls run. */
  rxInterrupts: number;
  polls: number;
  /** Events read from the event ring, by kind. */
  linkEvents: number;
  txcEvents: number;
  /** RX buffers the device gave back empty (FLUSHRX). */
  rxEmpty: number;
}

/** Options of a send: `more` (xmit_more) and offload for the whole frame; the GuestNic's. */
export type VenetSendOptions = NicSendOptions;
