import { ConfigError, type Device, type DeviceClass, type DeviceConnectionHandler, type DeviceContext, type GuestMemory } from '@vbus/core';
// The backends live in @vbus/net: one backend interface serves venet and virtio-net.
import { SoftwareOffload, needsSoftwareOffload, type FrameOffload, type FrameSink, type NetBackend, type NetBackendPort } from '@vbus/net';
import { DescriptorChain } from '../virtqueue/descriptor-chain.js';
import { VIRTQ_MAX_SIZE, hasFeature } from '../virtqueue/layout.js';
import { VirtioDeviceConnection, type QueueCounters, type QueueSlot } from '../transport/virtio-transport.js';
import {
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VQ_PAIRS,
  VIRTIO_NET_CONFIG_MTU,
  VIRTIO_NET_CONFIG_SIZE,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_HDR_SIZE,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_ANNOUNCE,
  VIRTIO_NET_S_LINK_UP,
  VIRTIO_NET_TYPE,
  decodeNetHeader,
  emptyNetHeader,
  encodeNetHeader,
} from './virtio-net-abi.js';
import { VIRTIO_NET_IMPLEMENTED_FEATURES } from './features.js';

/** Features this device implements (VERSION_1 is always offered by the transport). */
export const VIRTIO_NET_SUPPORTED_FEATURES: bigint = VIRTIO_NET_IMPLEMENTED_FEATURES;

/** Largest frame (without the header) the device accepts on tx: a 64 KiB IP packet plus link headers. */
export const VIRTIO_NET_MAX_FRAME = 4096 + 65536;

/** Configuration of a virtio-net device (as given to `createDevice`, after validation). */
export interface VirtioNetConfig {
  /** MAC address (6 bytes, or text "52:54:00:12:34:56"). */
  mac: Uint8Array;
  /** MTU reported in config space (68..65535). Default 1500. */
  mtu: number;
  /** Number of rx/tx queue pairs (1..16). Default 1. */
  queuePairs: number;
  /** Host backend (switch, loopback, socket); without one every tx frame is a drop. */
  backend: NetBackend | undefined;
  /** Features offered: a subset of {@link VIRTIO_NET_SUPPORTED_FEATURES}. Default all. */
  features: bigint;
  /** Largest queue size (1..32768). Default 1024. */
  maxQueueSize: number;
  /** Link state at creation. Default up. */
  link: boolean;
}

let nextMac = 1;

function parseMac(v: unknown): Uint8Array {
  if (v instanceof Uint8Array && v.length === 6) return Uint8Array.from(v);
  if (typeof v === 'string' && /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) return Uint8Array.from(v.split(':').map((x) => parseInt(x, 16)));
  throw new ConfigError('mac', v, 'must be 6 bytes or "xx:xx:xx:xx:xx:xx"');
}

/**
 * The virtio-net device class (type "virtio-net"): a virtio device on the bus whose host half
 * is a {@link NetBackend}, the same backends venet uses.
 */
export class VirtioNetDeviceClass implements DeviceClass<VirtioNetConfig> {
  readonly type = VIRTIO_NET_TYPE;
  readonly version = 1;
  readonly description = 'virtio-net (OASIS virtio 1.2 §5.1) over the vbus virtio transport';

  validate(config: unknown): VirtioNetConfig {
    const c = (config ?? {}) as Partial<Omit<VirtioNetConfig, 'mac'>> & { mac?: unknown };
    let mac: Uint8Array;
    if (c.mac === undefined) {
      const n = nextMac++;
      mac = Uint8Array.from([0x52, 0x54, 0x00, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
    } else mac = parseMac(c.mac);
    if ((mac[0]! & 1) !== 0) throw new ConfigError('mac', c.mac, 'must be a unicast address');
    const mtu = c.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ConfigError('mtu', mtu, 'must be an integer 68..65535');
    const queuePairs = c.queuePairs ?? 1;
    if (!Number.isInteger(queuePairs) || queuePairs < 1 || queuePairs > 16) throw new ConfigError('queuePairs', queuePairs, 'must be an integer 1..16');
    const features = c.features ?? VIRTIO_NET_SUPPORTED_FEATURES;
    if (typeof features !== 'bigint' || (features & ~VIRTIO_NET_SUPPORTED_FEATURES) !== 0n)
      throw new ConfigError('features', String(features), `must be a bigint subset of 0x${VIRTIO_NET_SUPPORTED_FEATURES.toString(16)}`);
    const maxQueueSize = c.maxQueueSize ?? 1024;
    if (!Number.isInteger(maxQueueSize) || maxQueueSize < 1 || maxQueueSize > VIRTQ_MAX_SIZE)
      throw new ConfigError('maxQueueSize', maxQueueSize, `must be an integer 1..${VIRTQ_MAX_SIZE}`);
    const backend = c.backend;
    if (backend !== undefined && (typeof backend !== 'object' || typeof (backend as NetBackend).attach !== 'function'))
      throw new ConfigError('backend', '[object]', 'must be a NetBackend');
    return { mac, mtu, queuePairs, backend, features, maxQueueSize, link: c.link ?? true };
  }

  create(config: VirtioNetConfig, context: DeviceContext): VirtioNetDevice {
    return new VirtioNetDevice(config, context);
  }
}

/** A virtio-net device instance. */
export class VirtioNetDevice implements Device {
  readonly type = VIRTIO_NET_TYPE;
  private readonly conns = new Set<VirtioNetConnection>();
  private linkUp: boolean;
  private announce = false;

  constructor(
    readonly config: VirtioNetConfig,
    private readonly context: DeviceContext,
  ) {
    this.linkUp = config.link;
  }

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    const c = new VirtioNetConnection(this, this.context, connection.memory, () => this.conns.delete(c));
    this.conns.add(c);
    return c;
  }

  /** Config-space status word (LINK_UP, ANNOUNCE). */
  get netStatus(): number {
    return (this.linkUp ? VIRTIO_NET_S_LINK_UP : 0) | (this.announce ? VIRTIO_NET_S_ANNOUNCE : 0);
  }
  get link(): boolean {
    return this.linkUp;
  }

  /** Change the link state (and optionally ask the driver to announce): a configuration change. */
  setLink(up: boolean, announce = false): void {
    this.linkUp = up;
    this.announce = announce;
    for (const c of this.conns) c.statusChanged();
  }
  /** @internal the driver acknowledged an announcement */
  clearAnnounce(): void {
    this.announce = false;
  }

  /** The connections' DEVICE_NEEDS_RESET errors (empty when all is well). */
  errors(): string[] {
    return [...this.conns].flatMap((c) => (c.error ? [c.error.message] : []));
  }
  /** Status of each connection (VIRTIO_CONFIG_S_*). */
  statuses(): number[] {
    return [...this.conns].map((c) => c.deviceStatus);
  }

  attributes() {
    return {
      mac: [...this.config.mac].map((b) => b.toString(16).padStart(2, '0')).join(':'),
      mtu: this.config.mtu,
      queuePairs: this.config.queuePairs,
      link: this.linkUp,
      features: `0x${this.config.features.toString(16)}`,
      backend: this.config.backend?.kind ?? 'none',
      error: this.errors()[0] ?? '',
    };
  }

  counters() {
    const total: Record<string, Record<string, number>> = {};
    for (const c of this.conns) {
      for (const [q, v] of Object.entries(c.counters())) {
        const t = (total[q] ??= {});
        for (const [k, n] of Object.entries(v)) t[k] = (t[k] ?? 0) + n;
      }
    }
    return total;
  }

  release(): void {
    for (const c of [...this.conns]) c.close();
  }
}

/** Receive-filter state of a connection (control queue, class RX and MAC). */
interface RxFilter {
  promisc: boolean;
  allmulti: boolean;
  mac: Uint8Array;
}

/** One driver's connection to a virtio-net device: the transport plus the NIC. */
export class VirtioNetConnection extends VirtioDeviceConnection implements FrameSink {
  private port: NetBackendPort | undefined;
  private pairsInUse = 1;
  // QEMU's reset defaults: promiscuous until the driver sets a mode
  private readonly filter: RxFilter;
  private readonly txScratch = new Uint8Array(VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME);
  private readonly hdrBytes = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  private readonly hdr = emptyNetHeader();
  private readonly rxChains: DescriptorChain[] = [];
  private readonly software = new SoftwareOffload();
  private readonly plain: FrameSink = { deliver: (f) => this.receive(f, undefined) };
  /** Nesting depth of queue processing: rx interrupts raised meanwhile are sent once at the end. */
  private busy = 0;
  private readonly rxIrqPending: boolean[] = [];
  /** Frames dropped by the receive filter. */
  filtered = 0;

  constructor(
    private readonly device: VirtioNetDevice,
    context: DeviceContext,
    memory: GuestMemory,
    private readonly onClose: () => void,
  ) {
    const n = device.config.queuePairs;
    super(context, memory, {
      numQueues: 2 * n + 1,
      maxQueueSize: device.config.maxQueueSize,
      features: device.config.features,
      queueName: (i) => (i === 2 * n ? 'ctrl' : i % 2 === 0 ? `rx${i / 2}` : `tx${(i - 1) / 2}`),
    });
    this.filter = { promisc: true, allmulti: false, mac: Uint8Array.from(device.config.mac) };
  }

  private get pairs(): number {
    return this.device.config.queuePairs;
  }

  /**
   * Queue pairs the driver may use: the configured number with MQ negotiated, else one. Without
   * VIRTIO_NET_F_MQ the device has receiveq1, transmitq1 and the control queue at index 2
   * (virtio 1.2 §5.1.2), however many pairs it was configured with.
   */
  private get activePairs(): number {
    return this.has(VIRTIO_NET_F_MQ) ? this.pairs : 1;
  }

  /** Index of the control queue: 2N with MQ (N = max_virtqueue_pairs), 2 without (§5.1.2). */
  private get ctrlIndex(): number {
    return 2 * this.activePairs;
  }

  protected configSpace(): Uint8Array {
    const b = new Uint8Array(VIRTIO_NET_CONFIG_SIZE);
    const dv = new DataView(b.buffer);
    b.set(this.filter.mac, VIRTIO_NET_CONFIG_MAC);
    dv.setUint16(VIRTIO_NET_CONFIG_STATUS, this.device.netStatus, true);
    dv.setUint16(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS, this.pairs, true);
    dv.setUint16(VIRTIO_NET_CONFIG_MTU, this.device.config.mtu, true);
    return b;
  }

  protected override checkFeatures(f: bigint): string | null {
    const needsCtrl = [VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE];
    if (!hasFeature(f, VIRTIO_NET_F_CTRL_VQ) && needsCtrl.some((b) => hasFeature(f, b))) return 'CTRL_RX, MQ, CTRL_MAC_ADDR need CTRL_VQ (§5.1.3.1)';
    if (hasFeature(f, VIRTIO_NET_F_GUEST_ANNOUNCE) && !hasFeature(f, VIRTIO_NET_F_STATUS)) return 'GUEST_ANNOUNCE needs STATUS';
    return null;
  }

  /** @internal link or announce changed */
  statusChanged(): void {
    if (this.has(VIRTIO_NET_F_STATUS)) this.configChanged();
  }

  protected start(): void {
    const backend = this.device.config.backend;
    this.pairsInUse = 1;
    if (backend) this.port = backend.attach({ name: this.context.name, mac: this.filter.mac, acceptsOffload: true }, this);
    for (let k = 0; k < this.activePairs; k++) {
      // rx kicks are wanted only when the device ran out of buffers
      this.queues[2 * k]!.queue?.disableNotification();
      const tx = this.queues[2 * k + 1]!;
      if (tx.queue?.hasAvailable()) this.guard(tx, () => this.processTx(tx));
    }
  }

  protected stop(): void {
    const p = this.port;
    this.port = undefined;
    p?.disconnect();
  }

  override close(): void {
    super.close();
    this.onClose();
  }

  override counters(): Record<string, Record<string, number>> {
    const c = super.counters();
    c.config!.filtered = this.filtered;
    c.config!.offloadErrors = this.software.stats.errors;
    return c;
  }

  protected onNotify(slot: QueueSlot): void {
    if (slot.index === this.ctrlIndex) this.processCtrl(slot);
    else if (slot.index >= this.ctrlIndex) return; // a queue that does not exist without MQ: nothing to do
    else if (slot.index % 2 === 1) this.processTx(slot);
    else slot.queue!.disableNotification(); // rx refilled: nothing to do until frames come
  }

  // --- transmit ---------------------------------------------------------------------------------

  /** Drain a tx queue: notifications off, pop, deliver, complete; re-enable and re-check. */
  private processTx(slot: QueueSlot): void {
    const q = slot.queue!;
    const budget = 4 * q.size;
    let done = 0;
    this.busy++;
    try {
      q.disableNotification();
      for (;;) {
        let chain: DescriptorChain | null;
        while ((chain = q.popChain()) !== null) {
          const id = chain.id;
          const len = this.transmitChain(slot, chain);
          q.addUsed(id, len);
          if (++done >= budget) {
            // a guest that keeps the ring full does not get to hold the event loop: continue later
            this.interrupt(slot);
            this.context.defer(() => this.live && slot.queue === q && this.guard(slot, () => this.processTx(slot)));
            return;
          }
        }
        if (!q.enableNotification()) break;
        q.disableNotification();
      }
      if (done > 0) this.interrupt(slot);
    } finally {
      this.busy--;
      if (this.busy === 0) this.flushRxInterrupts();
    }
  }

  /** One tx chain: header + frame out of the readable part, to the backend. Returns the used length (0). */
  private transmitChain(slot: QueueSlot, chain: DescriptorChain): number {
    const c = slot.counters;
    const r = chain.reader();
    const total = r.remaining;
    if (total < VIRTIO_NET_HDR_SIZE + 14 || total > this.txScratch.length) {
      c.drops++;
      return 0;
    }
    // copied out first: the guest cannot change the frame after the checks
    r.read(this.txScratch, 0, total);
    // the header is decoded from the private copy (decodeNetHeader reads its first bytes only)
    const h = decodeNetHeader(this.txScratch, this.hdr);
    let offload: FrameOffload | undefined;
    if ((h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) {
      // no HOST_TSO/UFO offered: a GSO frame is a driver bug, dropped
      c.drops++;
      return 0;
    }
    if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && this.has(VIRTIO_NET_F_CSUM)) {
      offload = { needsCsum: true, csumStart: h.csumStart, csumOffset: h.csumOffset, gsoType: 0, gsoSize: 0, hdrLen: h.hdrLen, ecn: false };
    }
    const port = this.port;
    // the frame view is made only for a backend that will read it
    if (!port || !this.device.link || !port.deliver(this.txScratch.subarray(VIRTIO_NET_HDR_SIZE, total), offload)) {
      c.drops++;
      return 0;
    }
    c.frames++;
    c.bytes += total - VIRTIO_NET_HDR_SIZE;
    return 0;
  }

  // --- receive ------------------------------------------------------------------------------------

  /** FrameSink: a frame from the backend for this NIC. Never throws. */
  deliver(frame: Uint8Array, offload?: FrameOffload): boolean {
    if (!this.live || !this.device.link) {
      this.queues[0]!.counters.drops++;
      return false;
    }
    if (!this.accepts(frame)) {
      this.filtered++;
      return false;
    }
    const gso = offload !== undefined && (offload.gsoType & 0x7f) !== 0;
    if (needsSoftwareOffload(offload) && (gso || !this.has(VIRTIO_NET_F_GUEST_CSUM))) return this.software.process(frame, offload, this.plain);
    return this.receive(frame, offload);
  }

  private accepts(frame: Uint8Array): boolean {
    if (frame.length < 14) return false;
    const f = this.filter;
    if (f.promisc) return true;
    if ((frame[0]! & 1) === 0) {
      for (let i = 0; i < 6; i++) if (frame[i] !== f.mac[i]) return false;
      return true;
    }
    let bcast = true;
    for (let i = 0; i < 6; i++) if (frame[i] !== 0xff) bcast = false;
    return bcast || f.allmulti;
  }

  /** Pick the rx queue of a flow: a hash of the IPv4 addresses over the pairs in use. */
  private rxPair(frame: Uint8Array): number {
    if (this.pairsInUse === 1 || frame.length < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) return 0;
    let h = 0;
    for (let i = 26; i < 34; i++) h = (h * 31 + frame[i]!) >>> 0;
    return h % this.pairsInUse;
  }

  private receive(frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    const slot = this.queues[2 * this.rxPair(frame)]!;
    let ok = false;
    this.guard(slot, () => {
      ok = this.receiveInto(slot, frame, offload);
    });
    return ok;
  }

  /**
   * Write header + frame into the next rx chain; with MRG_RXBUF spread over as many chains as it
   * takes (num_buffers). No buffers: a counted drop, and rx kicks are turned on so that the
   * driver's refill is seen.
   */
  private receiveInto(slot: QueueSlot, frame: Uint8Array, offload: FrameOffload | undefined): boolean {
    const q = slot.queue;
    if (q === null) {
      slot.counters.drops++;
      return false;
    }
    const need = VIRTIO_NET_HDR_SIZE + frame.length;
    const mrg = this.has(VIRTIO_NET_F_MRG_RXBUF);
    let n = 0;
    let room = 0;
    while (room < need && (mrg || n === 0)) {
      const chain = q.popChain((this.rxChains[n] ??= new DescriptorChain()));
      if (chain === null) break;
      n++;
      room += chain.writableBytes;
    }
    if (room < need || this.rxChains[0]!.writableBytes < VIRTIO_NET_HDR_SIZE) {
      slot.counters.drops++;
      // give back what was taken, empty (the driver reposts buffers shorter than a header)
      for (let i = 0; i < n; i++) q.addUsed(this.rxChains[i]!.id, 0);
      if (n > 0) this.rxInterrupt(slot);
      else q.enableNotification();
      return false;
    }
    const h = this.hdr;
    h.flags = offload?.needsCsum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    h.gsoType = VIRTIO_NET_HDR_GSO_NONE;
    h.hdrLen = offload?.hdrLen ?? 0;
    h.gsoSize = 0;
    h.csumStart = offload?.needsCsum ? offload.csumStart : 0;
    h.csumOffset = offload?.needsCsum ? offload.csumOffset : 0;
    h.numBuffers = n;
    encodeNetHeader(h, this.hdrBytes);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const chain = this.rxChains[i]!;
      const w = chain.writer();
      if (i === 0) w.write(this.hdrBytes);
      off += w.write(frame, off);
      q.addUsed(chain.id, w.written);
    }
    slot.counters.frames++;
    slot.counters.bytes += frame.length;
    this.rxInterrupt(slot);
    return true;
  }

  private rxInterrupt(slot: QueueSlot): void {
    if (this.busy > 0) this.rxIrqPending[slot.index] = true;
    else this.interrupt(slot);
  }

  private flushRxInterrupts(): void {
    for (let i = 0; i < this.rxIrqPending.length; i++) {
      if (!this.rxIrqPending[i]) continue;
      this.rxIrqPending[i] = false;
      const slot = this.queues[i]!;
      if (this.live && slot.queue !== null) this.guard(slot, () => this.interrupt(slot));
    }
  }

  // --- control queue ------------------------------------------------------------------------------

  private processCtrl(slot: QueueSlot): void {
    const q = slot.queue!;
    const cmd = new Uint8Array(VIRTIO_NET_CTRL_HDR_SIZE + 64);
    let done = 0;
    let chain: DescriptorChain | null;
    while (done < q.size && (chain = q.popChain()) !== null) {
      const r = chain.reader();
      const len = Math.min(r.remaining, cmd.length);
      r.read(cmd, 0, len);
      const ack = len < VIRTIO_NET_CTRL_HDR_SIZE ? VIRTIO_NET_ERR : this.command(cmd[0]!, cmd[1]!, cmd.subarray(VIRTIO_NET_CTRL_HDR_SIZE, len));
      const w = chain.writer();
      const wrote = w.remaining >= 1 ? w.write(Uint8Array.of(ack)) : 0;
      q.addUsed(chain.id, wrote);
      slot.counters.frames++;
      done++;
    }
    if (done > 0) this.interrupt(slot);
  }

  /** Run one control command; returns the ack (VIRTIO_NET_OK / VIRTIO_NET_ERR). */
  private command(cls: number, cmd: number, data: Uint8Array): number {
    const f = this.filter;
    if (cls === VIRTIO_NET_CTRL_RX && this.has(VIRTIO_NET_F_CTRL_RX) && data.length >= 1) {
      if (cmd === VIRTIO_NET_CTRL_RX_PROMISC) f.promisc = data[0] !== 0;
      else if (cmd === VIRTIO_NET_CTRL_RX_ALLMULTI) f.allmulti = data[0] !== 0;
      else return VIRTIO_NET_ERR;
      return VIRTIO_NET_OK;
    }
    if (cls === VIRTIO_NET_CTRL_MAC) {
      if (cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET && this.has(VIRTIO_NET_F_CTRL_MAC_ADDR) && data.length >= 6 && (data[0]! & 1) === 0) {
        f.mac = Uint8Array.from(data.subarray(0, 6));
        return VIRTIO_NET_OK;
      }
      // MAC tables are accepted but not used for filtering (promisc/allmulti only)
      if (cmd === VIRTIO_NET_CTRL_MAC_TABLE_SET && this.has(VIRTIO_NET_F_CTRL_RX)) return VIRTIO_NET_OK;
      return VIRTIO_NET_ERR;
    }
    if (cls === VIRTIO_NET_CTRL_MQ && cmd === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && this.has(VIRTIO_NET_F_MQ) && data.length >= 2) {
      const n = data[0]! | (data[1]! << 8);
      if (n < 1 || n > this.pairs) return VIRTIO_NET_ERR;
      for (let k = 0; k < n; k++) if (this.queues[2 * k]!.queue === null || this.queues[2 * k + 1]!.queue === null) return VIRTIO_NET_ERR;
      this.pairsInUse = n;
      return VIRTIO_NET_OK;
    }
    if (cls === VIRTIO_NET_CTRL_ANNOUNCE && cmd === VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
      this.device.clearAnnounce();
      return VIRTIO_NET_OK;
    }
    return VIRTIO_NET_ERR;
  }

  /** Receive-filter state (for tests and introspection). */
  rxFilter(): { promisc: boolean; allmulti: boolean; mac: Uint8Array; pairs: number } {
    return { ...this.filter, mac: Uint8Array.from(this.filter.mac), pairs: this.pairsInUse };
  }
}

export type { QueueCounters };

