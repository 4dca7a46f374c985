import type { FrameSink, NetBackend, NetBackendPort, PortCounters } from './net-backend.js';
import { NetError } from './net-error.js';
import { parseMac } from '../packet/ethernet.js';

/**
 * The part of an emulator that an emulated NIC talks through: frames the guest transmits come out
 * as events, frames for the guest go in as messages. v86's `V86` instance has exactly this shape
 * (`emulator.add_listener('net0-send', f)`, `emulator.bus.send('net0-receive', f)`), so the
 * adapter needs no dependency on v86; any emulator with an event bus can be wrapped to fit.
 */
export interface EmulatorNicBus {
  /** Subscribe to an event; `net<N>-send` carries one raw Ethernet frame (no FCS) the guest sent. */
  add_listener(event: string, listener: (frame: Uint8Array) => void): void;
  /** Undo {@link EmulatorNicBus.add_listener}. */
  remove_listener(event: string, listener: (frame: Uint8Array) => void): void;
  /** The emulator's message bus; `net<N>-receive` hands the NIC a frame for the guest. */
  readonly bus: {
    /** Raise an event on the emulator's bus; `net<N>-receive` hands the guest's NIC one frame. */
    send(event: string, data: Uint8Array): void;
  };
}

/** Options of {@link EmulatorNic.attach}. */
export interface EmulatorNicOptions {
  /** Port name for introspection and pcap, e.g. `"v86/net0"`. */
  name: string;
  /**
   * The guest NIC's MAC address. The emulator picks its own at random, so the guest must be told
   * to use this one (`ip link set eth0 address ...`): a switch port accepts only its NIC's MAC.
   */
  mac: string | Uint8Array;
  /** Which of the emulator's NICs: events `net<N>-send` and `net<N>-receive`. Default 0. */
  nicIndex?: number;
  /** Largest frame accepted from the guest, header included, no FCS. Default 1518 (1500 MTU + VLAN tag). */
  maxFrame?: number;
}

/** Counters of the adapter itself (the port keeps frames and bytes each way). */
export interface EmulatorNicCounters {
  /** Frames from the emulator refused because they are shorter than an Ethernet header or over `maxFrame`. */
  malformed: number;
}

const ETH_HLEN = 14;
const DEFAULT_MAX_FRAME = 1518;

/**
 * An emulator's NIC (v86's ne2k or virtio-net) as a port on a vbus backend: what the guest sends
 * goes into the backend (a learning switch, a socket...), what the backend delivers goes to the guest.
 *
 * The emulator is a guest: its frames are checked (length) before they enter the backend. Frames
 * toward the emulator are complete (no offload metadata; the backend finishes checksums first) and
 * handed over synchronously; the emulator copies them into its NIC. A frame the emulated NIC then
 * drops (receiver stopped, ring full) is dropped inside the emulator, which does not report it.
 */
export class EmulatorNic {
  /** The port the NIC transmits into; its counters show frames each way. */
  readonly port: NetBackendPort;
  readonly counters: EmulatorNicCounters = { malformed: 0 };
  private readonly sendEvent: string;
  private readonly receiveEvent: string;
  private readonly maxFrame: number;
  private readonly fromGuest = (frame: Uint8Array): void => {
    if (!(frame instanceof Uint8Array) || frame.length < ETH_HLEN || frame.length > this.maxFrame) {
      this.counters.malformed++;
      this.port.counters.drops++;
      return;
    }
    this.port.deliver(frame);
  };
  private attached = true;

  private constructor(
    private readonly emulator: EmulatorNicBus,
    backend: NetBackend,
    options: EmulatorNicOptions,
  ) {
    const index = options.nicIndex ?? 0;
    if (!Number.isInteger(index) || index < 0) throw new NetError(options.name, 'nic-index', index, 'the emulator NIC index must be a non-negative integer');
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    if (!Number.isInteger(this.maxFrame) || this.maxFrame < 60) throw new NetError(options.name, 'max-frame', this.maxFrame, 'maxFrame must be an integer of at least 60');
    this.sendEvent = `net${index}-send`;
    this.receiveEvent = `net${index}-receive`;
    const mac = typeof options.mac === 'string' ? parseMac(options.mac) : options.mac;
    const toGuest: FrameSink = {
      deliver: (frame) => {
        if (!this.attached) return false;
        this.emulator.bus.send(this.receiveEvent, frame);
        return true;
      },
    };
    this.port = backend.attach({ name: options.name, mac, acceptsOffload: false }, toGuest);
    emulator.add_listener(this.sendEvent, this.fromGuest);
  }

  /** Put the emulator's NIC `nicIndex` on `backend` as a port named `name` with MAC `mac`. */
  static attach(emulator: EmulatorNicBus, backend: NetBackend, options: EmulatorNicOptions): EmulatorNic {
    return new EmulatorNic(emulator, backend, options);
  }

  /** The port's frame counters (tx: guest to backend, rx: backend to guest). */
  get portCounters(): PortCounters {
    return this.port.counters;
  }

  /** Stop listening to the emulator and leave the backend. Idempotent. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.emulator.remove_listener(this.sendEvent, this.fromGuest);
    this.port.disconnect();
  }
}
