import {
  BusError,
  IOQ_IDX_HEAD,
  IoqDeviceQueue,
  IoqIndex,
  RingError,
  VbusError,
  le,
  newQueueCounters,
  type Attributes,
  type Counters,
  type Device,
  type DeviceClass,
  type DeviceConnectionHandler,
  type DeviceContext,
  type GuestMemory,
  type QueueCounters,
  type ShmRegistration,
  type ShmSignal,
} from '@vbus/core';
import type { FrameOffload, FrameSink, NetBackendPort } from '@vbus/net';
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP, gsoRefusal } from '@vbus/net';
import { formatMac } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import { validateVenetConfig, type VenetConfig } from './venet-config.js';

/** Counters of one venet queue (kept per device, across connections); the bus's {@link QueueCounters}. */
export type VenetQueueCounters = QueueCounters;

/** What the host offers in each capability group. */
export const VENET_HOST_CAPS: Readonly<Record<number, number>> = {
  [abi.VENET_CAP_GROUP_SG]: abi.VENET_CAP_SG | abi.VENET_CAP_TSO4 | abi.VENET_CAP_TSO6 | abi.VENET_CAP_ECN | abi.VENET_CAP_UFO | abi.VENET_CAP_PMTD,
  [abi.VENET_CAP_GROUP_EVENTQ]: abi.VENET_CAP_EVQ_LINKSTATE | abi.VENET_CAP_EVQ_TXC,
  [abi.VENET_CAP_GROUP_L4RO]: 0,
};

/** The venet device class ("virtual-ethernet", version 1). */
export class VenetDeviceClass implements DeviceClass<VenetConfig> {
  readonly type = abi.VENET_TYPE;
  readonly version = abi.VENET_VERSION;
  readonly description = 'venet: paravirtual Ethernet NIC over IOQ rings (rx 0, tx 1, events 2)';
  validate(config: unknown): VenetConfig {
    return validateVenetConfig(config);
  }
  create(config: VenetConfig, context: DeviceContext): Device {
    return new VenetDevice(config, context);
  }
}

/** A TXC event with its constant fields filled in (the cookie is set per frame). */
function newTxcEvent(): Uint8Array {
  const ev = new Uint8Array(abi.VENET_EVENT_TXC_SIZE);
  le.setU32(ev, abi.VENET_EVENT_OFF_SIZE, abi.VENET_EVENT_TXC_SIZE);
  le.setU32(ev, abi.VENET_EVENT_OFF_ID, abi.VENET_EVENT_TXC);
  le.setU32(ev, abi.VENET_EVENT_TXC_OFF_TXQID, abi.VENET_QUEUE_TX);
  return ev;
}

/** One device queue: the IOQ's south end plus the slot index we are at (for error messages). */
class DeviceRing {
  readonly q: IoqDeviceQueue;
  /** Slot of the buffer {@link next} looked at. */
  pos: number;
  constructor(
    readonly reg: ShmRegistration,
    readonly signal: ShmSignal,
    readonly name: string,
    maxCount: number,
    readonly stats: VenetQueueCounters,
  ) {
    this.q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, signal, name, maxCount);
    this.pos = this.q.ioq.readIndex(IoqIndex.Inuse, IOQ_IDX_HEAD);
  }
  get count(): number {
    return this.q.ioq.count;
  }
  next(): boolean {
    return this.q.next();
  }
  complete(len: number): void {
    this.q.complete(len);
    this.pos = this.pos + 1 === this.q.ioq.count ? 0 : this.pos + 1;
  }
  notify(): void {
    if (this.q.notify()) this.stats.interrupts++;
    else this.stats.suppressed++;
  }
  violation(value: number | bigint, rule: string): RingError {
    return new RingError(this.name, this.pos, value, rule);
  }
}

/**
 * A venet NIC on a bus. One guest connection at a time; one backend port for the device's life.
 */
export class VenetDevice implements Device {
  readonly type = abi.VENET_TYPE;
  readonly stats = { rx: newQueueCounters(), tx: newQueueCounters(), evq: newQueueCounters() };
  /** Why rx frames were dropped (the sum is stats.rx.drops). */
  readonly rxDrops = { noConnection: 0, linkDown: 0, noBuffer: 0, tooBig: 0, backlogFull: 0, backlogDiscarded: 0 };
  /** Why tx frames were dropped before the backend (part of stats.tx.drops): GSO metadata over the limits of @vbus/net's gso-limits. */
  readonly txDrops = { gso: 0 };
  /** Why the last tx frame counted in txDrops was refused. */
  lastTxDropReason: string | undefined;
  readonly port: NetBackendPort | undefined;
  private conn: VenetConnection | undefined;

  constructor(
    readonly config: VenetConfig,
    readonly context: DeviceContext,
  ) {
    const sink: FrameSink = { deliver: (frame) => this.fromBackend(frame) };
    this.port = config.backend?.attach({ name: context.name, mac: config.mac, acceptsOffload: false }, sink);
  }

  /** The connection currently open, if any (for tests and introspection). */
  get connection(): VenetConnection | undefined {
    return this.conn;
  }

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    if (this.conn) throw new BusError(`${this.context.name}: a venet device takes one connection at a time (connection ${this.conn.id} is open)`);
    const c = new VenetConnection(this, connection, () => {
      if (this.conn === c) this.conn = undefined;
    });
    this.conn = c;
    return c;
  }

  private fromBackend(frame: Uint8Array): boolean {
    const c = this.conn;
    if (!c) {
      this.rxDrops.noConnection++;
      this.stats.rx.drops++;
      return false;
    }
    return c.receive(frame);
  }

  attributes(): Attributes {
    const c = this.conn;
    return {
      mac: formatMac(this.config.mac),
      mtu: this.config.mtu,
      ringSize: this.config.ringSize,
      txCompleteEvery: this.config.txCompleteEvery,
      burstThresholdUs: this.config.burstThresholdUs ?? 0,
      backend: this.config.backend?.kind ?? 'none',
      link: c?.linkUp ?? false,
      capsSg: c?.caps[abi.VENET_CAP_GROUP_SG] ?? 0,
      capsEventq: c?.caps[abi.VENET_CAP_GROUP_EVENTQ] ?? 0,
    };
  }

  counters(): Counters {
    return { rx: { ...this.stats.rx }, tx: { ...this.stats.tx }, evq: { ...this.stats.evq }, rxDrops: { ...this.rxDrops }, txDrops: { ...this.txDrops } };
  }

  release(): void {
    this.port?.disconnect();
  }
}

/** The device's half of one guest connection. */
export class VenetConnection implements DeviceConnectionHandler {
  /** Negotiated bits per capability group. */
  readonly caps: Record<number, number> = {};
  linkUp = false;
  private lastGid = -1;
  private rx: DeviceRing | undefined;
  private tx: DeviceRing | undefined;
  private evqRing: DeviceRing | undefined;
  /** The event ring, once EVQQUERY accepted it. */
  private evq: DeviceRing | undefined;
  private pmtd: { pool: number; len: number } | undefined;
  private failed = false;
  private closed = false;
  private readonly name: string;
  private readonly config: VenetConfig;
  private readonly stats: VenetDevice['stats'];
  /** Gather buffer for SG frames (the frame is valid only during deliver). */
  private scratch: Uint8Array | undefined;
  /** Private copy of the SG descriptor being checked (copied out of guest memory, then checked). */
  private readonly sgCopy = new Uint8Array(abi.venetSgSize(abi.VENET_SG_MAX_IOV));
  /** The TXC event, rewritten per frame (only the cookie changes). */
  private readonly txcEvent = newTxcEvent();
  // burst mode
  private lastRxAt = -Infinity;
  private readonly rxBacklog: Uint8Array[] = [];
  private rxFlushScheduled = false;
  private txContinueScheduled = false;

  constructor(
    private readonly device: VenetDevice,
    private readonly connection: { readonly id: number },
    private readonly onClose: () => void,
  ) {
    this.name = device.context.name;
    this.config = device.config;
    this.stats = device.stats;
  }

  /** The bus's id of this connection (read lazily: the bus assigns it after open returns). */
  get id(): number {
    return this.connection.id;
  }

  // ---------------------------------------------------------------- calls

  call(func: number, data: Uint8Array): Uint8Array {
    if (this.failed || this.closed) throw new BusError(`${this.name}: connection is closed`);
    switch (func) {
      case abi.VENET_FUNC_NEGCAP:
        return this.negcap(data);
      case abi.VENET_FUNC_MACQUERY:
        return Uint8Array.from(this.config.mac);
      case abi.VENET_FUNC_LINKUP:
        if (!this.rx || !this.tx) throw new BusError(`${this.name}: LINKUP needs the RX (${abi.VENET_QUEUE_RX}) and TX (${abi.VENET_QUEUE_TX}) queues registered`);
        this.setLink(true);
        return new Uint8Array(0);
      case abi.VENET_FUNC_LINKDOWN:
        this.setLink(false);
        return new Uint8Array(0);
      case abi.VENET_FUNC_FLUSHRX:
        this.guard('rx', () => this.flushRx());
        return new Uint8Array(0);
      case abi.VENET_FUNC_PMTDQUERY:
        return this.pmtdQuery(data);
      case abi.VENET_FUNC_EVQQUERY:
        return this.evqQuery(data);
      case abi.VENET_FUNC_L4ROQUERY:
        throw new BusError(`${this.name}: L4ROQUERY refused: L4RO is not negotiated (this host offers no L4RO capabilities)`);
      default:
        throw new BusError(`${this.name}: unknown venet call ${func}`);
    }
  }

  private argument(func: string, data: Uint8Array, size: number): Uint8Array {
    if (data.length !== size) throw new BusError(`${this.name}: ${func} takes ${size} bytes, got ${data.length}`);
    return data.slice();
  }

  private negcap(data: Uint8Array): Uint8Array {
    const d = this.argument('NEGCAP', data, abi.VENET_CAPS_SIZE);
    if (this.linkUp) throw new BusError(`${this.name}: NEGCAP refused: the link is up`);
    const gid = le.getU32(d, abi.VENET_CAPS_OFF_GID);
    const requested = le.getU32(d, abi.VENET_CAPS_OFF_BITS);
    if (gid < this.lastGid)
      throw new BusError(`${this.name}: NEGCAP refused: group ${gid} after group ${this.lastGid} (the order is SG ${abi.VENET_CAP_GROUP_SG}, EVENTQ ${abi.VENET_CAP_GROUP_EVENTQ}, L4RO ${abi.VENET_CAP_GROUP_L4RO})`);
    const granted = ((VENET_HOST_CAPS[gid] ?? 0) & requested) >>> 0;
    if (gid in VENET_HOST_CAPS) {
      this.lastGid = gid;
      this.caps[gid] = granted;
    }
    const reply = new Uint8Array(abi.VENET_CAPS_SIZE);
    le.setU32(reply, abi.VENET_CAPS_OFF_GID, gid);
    le.setU32(reply, abi.VENET_CAPS_OFF_BITS, granted);
    return reply;
  }

  private has(gid: number, bit: number): boolean {
    return ((this.caps[gid] ?? 0) & bit) !== 0;
  }

  private pmtdQuery(data: Uint8Array): Uint8Array {
    const d = this.argument('PMTDQUERY', data, abi.VENET_PMTD_QUERY_SIZE);
    if (!this.has(abi.VENET_CAP_GROUP_SG, abi.VENET_CAP_PMTD)) throw new BusError(`${this.name}: PMTDQUERY refused: PMTD is not negotiated`);
    if (this.linkUp) throw new BusError(`${this.name}: PMTDQUERY refused: the link is up`);
    const pool = le.getU64(d, abi.VENET_PMTD_OFF_POOL);
    const len = le.getU32(d, abi.VENET_PMTD_OFF_LEN);
    const mem = this.tx?.reg.memory ?? this.rx?.reg.memory;
    if (!mem) throw new BusError(`${this.name}: PMTDQUERY needs the TX queue registered first`);
    if (len < abi.venetSgSize(1) || !mem.contains(pool, len)) throw new BusError(`${this.name}: PMTDQUERY: pool 0x${pool.toString(16)}+${len} is not inside guest memory`);
    this.pmtd = { pool, len };
    return new Uint8Array(0);
  }

  private evqQuery(data: Uint8Array): Uint8Array {
    const d = this.argument('EVQQUERY', data, abi.VENET_EVQ_QUERY_SIZE);
    if (!this.caps[abi.VENET_CAP_GROUP_EVENTQ]) throw new BusError(`${this.name}: EVQQUERY refused: no EVENTQ capability is negotiated`);
    if (this.linkUp) throw new BusError(`${this.name}: EVQQUERY refused: the link is up`);
    const flags = le.getU32(d, abi.VENET_EVQ_OFF_FLAGS);
    const evsize = le.getU32(d, abi.VENET_EVQ_OFF_EVSIZE);
    const qid = le.getU32(d, abi.VENET_EVQ_OFF_QID);
    if (flags !== 0) throw new BusError(`${this.name}: EVQQUERY: flags must be 0, got ${flags}`);
    if (evsize < abi.VENET_EVENT_MAX_SIZE || evsize > 4096) throw new BusError(`${this.name}: EVQQUERY: evsize ${evsize} must be in [${abi.VENET_EVENT_MAX_SIZE}, 4096]`);
    if (qid !== abi.VENET_QUEUE_EVQ || !this.evqRing) throw new BusError(`${this.name}: EVQQUERY: queue ${qid} is not a registered event ring (register it with shm id ${abi.VENET_QUEUE_EVQ} first)`);
    this.evq = this.evqRing;
    return new Uint8Array(0);
  }

  private setLink(up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    if (!up) this.discardBacklog();
    if (this.has(abi.VENET_CAP_GROUP_EVENTQ, abi.VENET_CAP_EVQ_LINKSTATE) && this.evq) {
      this.guard('evq', () => {
        const ev = new Uint8Array(abi.VENET_EVENT_LINKSTATE_SIZE);
        le.setU32(ev, abi.VENET_EVENT_OFF_SIZE, abi.VENET_EVENT_LINKSTATE_SIZE);
        le.setU32(ev, abi.VENET_EVENT_OFF_ID, abi.VENET_EVENT_LINKSTATE);
        ev[abi.VENET_EVENT_LINKSTATE_OFF_STATE] = up ? 1 : 0;
        if (this.pushEvent(ev)) this.evq!.notify();
      });
    }
  }

  // ---------------------------------------------------------------- shm

  shm(reg: ShmRegistration): void {
    if (this.failed || this.closed) throw new BusError(`${this.name}: connection is closed`);
    const signal = reg.signal;
    if (!signal) throw new BusError(`${this.name}: queue ${reg.id} needs a signal`);
    const which = reg.id === abi.VENET_QUEUE_RX ? 'rx' : reg.id === abi.VENET_QUEUE_TX ? 'tx' : reg.id === abi.VENET_QUEUE_EVQ ? 'evq' : undefined;
    if (!which) throw new BusError(`${this.name}: unknown venet queue id ${reg.id} (RX ${abi.VENET_QUEUE_RX}, TX ${abi.VENET_QUEUE_TX}, EVQ ${abi.VENET_QUEUE_EVQ})`);
    if (this.linkUp) throw new BusError(`${this.name}: queue ${reg.id} registered while the link is up`);
    const ring = new DeviceRing(reg, signal, `${this.name}.${which}`, this.config.ringSize, this.stats[which]);
    if (which === 'rx') {
      this.rx = ring;
      signal.handler = () => {
        this.stats.rx.kicks++;
        if (this.rxBacklog.length > 0) this.guard('rx', () => this.drainBacklog());
      };
    } else if (which === 'tx') {
      this.tx = ring;
      signal.handler = () => this.onTxKick();
    } else {
      this.evqRing = ring;
      signal.handler = () => {
        this.stats.evq.kicks++;
      };
    }
  }

  // ---------------------------------------------------------------- faults

  /** Run `fn`; any error fails the device with a message naming the queue, the slot and the rule. */
  private guard(queue: 'rx' | 'tx' | 'evq', fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (error) {
      this.fault(queue, error);
      return false;
    }
  }

  private fault(queue: 'rx' | 'tx' | 'evq', error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.linkUp = false;
    const ring = queue === 'rx' ? this.rx : queue === 'tx' ? this.tx : this.evqRing;
    let err: unknown = error;
    if (!(error instanceof RingError)) {
      const msg = error instanceof Error ? error.message : String(error);
      err = new RingError(ring?.name ?? `${this.name}.${queue}`, ring?.pos ?? -1, 0, VbusError.is(error) ? msg : `unexpected error: ${msg}`);
    }
    this.device.context.fail(err);
  }

  // ---------------------------------------------------------------- tx

  private onTxKick(): void {
    if (this.failed || this.closed) return;
    const tx = this.tx!;
    this.stats.tx.kicks++;
    tx.signal.disable();
    if (!this.guard('tx', () => this.drainTx())) return;
    if (this.txContinueScheduled) return; // stays masked until the deferred pass finishes
    tx.signal.enable();
  }

  /** Move up to one ring's worth of frames; if more remain, finish in a deferred pass (bounded work per wakeup). */
  private drainTx(): void {
    const tx = this.tx!;
    const every = this.config.txCompleteEvery;
    const useTxc = this.evq !== undefined && this.has(abi.VENET_CAP_GROUP_EVENTQ, abi.VENET_CAP_EVQ_TXC);
    let since = 0;
    let done = 0;
    let txcLost = false;
    while (done < tx.count && tx.next()) {
      const cookie = this.transmitOne(tx);
      tx.complete(0);
      done++;
      since++;
      if (useTxc) {
        const ev = this.txcEvent;
        le.setU64(ev, abi.VENET_EVENT_TXC_OFF_COOKIE, cookie);
        if (!this.pushEvent(ev)) txcLost = true;
      }
      if (since >= every) {
        (useTxc ? this.evq! : tx).notify();
        since = 0;
      }
    }
    if (done === tx.count && tx.next()) {
      // more work than one ring: continue later, keeping the kick masked
      if (since > 0) (useTxc ? this.evq! : tx).notify();
      if (txcLost) tx.notify();
      this.txContinueScheduled = true;
      this.device.context.defer(() => {
        this.txContinueScheduled = false;
        if (this.failed || this.closed) return;
        if (this.guard('tx', () => this.drainTx()) && !this.txContinueScheduled) tx.signal.enable();
      });
      return;
    }
    if (since > 0) (useTxc ? this.evq! : tx).notify();
    if (txcLost) tx.notify();
  }

  /** Check and send the frame under the TX cursor. Returns its cookie. Throws RingError on an ABI violation. */
  private transmitOne(tx: DeviceRing): number {
    const ptr = tx.q.ptr;
    const len = tx.q.len;
    const mem = tx.reg.memory;
    const maxPlain = this.config.mtu + abi.VENET_FRAME_OVERHEAD;
    const port = this.device.port;
    let frame: Uint8Array | undefined;
    let frameLen: number;
    let offload: FrameOffload | undefined;
    let cookie = tx.q.cookie;
    if (!this.has(abi.VENET_CAP_GROUP_SG, abi.VENET_CAP_SG)) {
      if (len < 14 || len > maxPlain) throw tx.violation(len, `frame length must be in [14, ${maxPlain}] (MTU ${this.config.mtu} + 18)`);
      if (!mem.contains(ptr, len)) throw tx.violation(ptr, `frame at 0x${ptr.toString(16)}+${len} is outside guest memory`);
      frameLen = len;
      // a view only for a backend to read; with none the frame is a counted drop
      if (port) frame = mem.view(ptr, len);
    } else {
      // SG: copy the descriptor out of shared memory first, then check the copy.
      const maxDesc = abi.venetSgSize(abi.VENET_SG_MAX_IOV);
      if (len < abi.venetSgSize(1) || len > maxDesc) throw tx.violation(len, `SG descriptor length must be in [${abi.venetSgSize(1)}, ${maxDesc}]`);
      if (this.pmtd && (ptr < this.pmtd.pool || ptr + len > this.pmtd.pool + this.pmtd.len))
        throw tx.violation(ptr, `SG descriptor at 0x${ptr.toString(16)}+${len} is outside the pre-mapped pool 0x${this.pmtd.pool.toString(16)}+${this.pmtd.len}`);
      if (!mem.contains(ptr, len)) throw tx.violation(ptr, `SG descriptor at 0x${ptr.toString(16)}+${len} is outside guest memory`);
      const sg = this.sgCopy;
      mem.copyOut(ptr, sg, 0, len);
      const count = le.getU32(sg, abi.VENET_SG_OFF_COUNT);
      if (count < 1 || count > abi.VENET_SG_MAX_IOV) throw tx.violation(count, `SG count must be in [1, ${abi.VENET_SG_MAX_IOV}]`);
      if (abi.venetSgSize(count) > len) throw tx.violation(count, `SG count ${count} needs ${abi.venetSgSize(count)} bytes but the descriptor length is ${len}`);
      cookie = le.getU64(sg, abi.VENET_SG_OFF_COOKIE);
      const flags = le.getU32(sg, abi.VENET_SG_OFF_FLAGS);
      if ((flags & ~abi.VENET_SG_FLAGS_ALL) !== 0) throw tx.violation(flags, `SG flags may only contain bits 0x${abi.VENET_SG_FLAGS_ALL.toString(16)}`);
      const gso = (flags & abi.VENET_SG_FLAG_GSO) !== 0;
      const total = le.getU32(sg, abi.VENET_SG_OFF_LEN);
      const maxFrame = gso ? abi.VENET_MAX_GSO_FRAME : maxPlain;
      if (total < 14 || total > maxFrame) throw tx.violation(total, `SG frame length must be in [14, ${maxFrame}]`);
      let sum = 0;
      for (let k = 0; k < count; k++) {
        const o = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
        const ilen = le.getU32(sg, o + abi.VENET_IOV_OFF_LEN);
        const iptr = le.getU64(sg, o + abi.VENET_IOV_OFF_PTR);
        if (ilen > total - sum) throw tx.violation(ilen, `SG iov ${k}: lengths add up to more than the frame length ${total}`);
        if (!mem.contains(iptr, ilen)) throw tx.violation(iptr, `SG iov ${k} at 0x${iptr.toString(16)}+${ilen} is outside guest memory`);
        sum += ilen;
      }
      if (sum !== total) throw tx.violation(sum, `SG iov lengths add up to ${sum}, not the frame length ${total}`);
      frameLen = total;
      if (flags !== 0) offload = this.offloadOf(tx, sg, flags, total);
      // gather only for a backend to read; with none the frame is a counted drop
      if (port) {
        if (!this.scratch || this.scratch.length < total) this.scratch = new Uint8Array(Math.max(total, maxPlain));
        let at = 0;
        for (let k = 0; k < count; k++) {
          const o = abi.VENET_SG_OFF_IOV + k * abi.VENET_IOV_SIZE;
          const ilen = le.getU32(sg, o + abi.VENET_IOV_OFF_LEN);
          if (ilen === 0) continue;
          mem.copyOut(le.getU64(sg, o + abi.VENET_IOV_OFF_PTR), this.scratch, at, ilen);
          at += ilen;
        }
        frame = this.scratch.subarray(0, total);
      }
    }
    // GSO metadata over the limits (size below the minimum MSS, too many segments) is a counted
    // drop, as Linux drops such a virtio_net_hdr: the frame never reaches the backend
    const gsoRefused = offload !== undefined && offload.gsoType !== GSO_NONE ? gsoRefusal(frameLen, offload.gsoType, offload.gsoSize) : undefined;
    if (gsoRefused !== undefined) {
      this.device.txDrops.gso++;
      this.device.lastTxDropReason = gsoRefused;
      this.stats.tx.drops++;
    } else if (port && frame && port.deliver(frame, offload)) {
      this.stats.tx.frames++;
      this.stats.tx.bytes += frameLen;
    } else this.stats.tx.drops++;
    return cookie;
  }

  private offloadOf(tx: DeviceRing, sg: Uint8Array, flags: number, total: number): FrameOffload {
    const needsCsum = (flags & abi.VENET_SG_FLAG_NEEDS_CSUM) !== 0;
    const csumStart = le.getU16(sg, abi.VENET_SG_OFF_CSUM_START);
    const csumOffset = le.getU16(sg, abi.VENET_SG_OFF_CSUM_OFFSET);
    if (needsCsum && csumStart + csumOffset + 2 > total) throw tx.violation(csumStart + csumOffset, `SG checksum at ${csumStart}+${csumOffset} lies past the frame length ${total}`);
    let gsoType = GSO_NONE;
    let gsoSize = 0;
    let hdrLen = 0;
    const ecn = (flags & abi.VENET_SG_FLAG_ECN) !== 0;
    if ((flags & abi.VENET_SG_FLAG_GSO) !== 0) {
      const t = sg[abi.VENET_SG_OFF_GSO_TYPE]!;
      const need = t === abi.VENET_GSO_TYPE_TCPV4 ? abi.VENET_CAP_TSO4 : t === abi.VENET_GSO_TYPE_TCPV6 ? abi.VENET_CAP_TSO6 : t === abi.VENET_GSO_TYPE_UDP ? abi.VENET_CAP_UFO : 0;
      if (need === 0) throw tx.violation(t, 'SG gso.type must be TCPV4 0, UDP 1 or TCPV6 2');
      if (!this.has(abi.VENET_CAP_GROUP_SG, need)) throw tx.violation(t, `SG gso.type ${t} used without negotiating its capability (0x${need.toString(16)})`);
      if (ecn && !this.has(abi.VENET_CAP_GROUP_SG, abi.VENET_CAP_ECN)) throw tx.violation(flags, 'SG ECN flag used without negotiating ECN');
      gsoType = t === abi.VENET_GSO_TYPE_TCPV4 ? GSO_TCPV4 : t === abi.VENET_GSO_TYPE_TCPV6 ? GSO_TCPV6 : GSO_UDP;
      gsoSize = le.getU16(sg, abi.VENET_SG_OFF_GSO_SIZE);
      hdrLen = le.getU16(sg, abi.VENET_SG_OFF_GSO_HDRLEN);
      if (gsoSize === 0 || hdrLen > total) throw tx.violation(gsoSize, `SG gso.size must be > 0 and gso.hdrlen (${hdrLen}) within the frame (${total})`);
    } else if (ecn) throw tx.violation(flags, 'SG ECN flag is only valid with GSO');
    return { needsCsum, csumStart, csumOffset, gsoType, gsoSize, hdrLen, ecn };
  }

  // ---------------------------------------------------------------- events

  /** Write one event into the next event buffer. False (counted) if the guest posted none. */
  private pushEvent(ev: Uint8Array): boolean {
    const q = this.evq!;
    if (!q.next()) {
      q.stats.drops++;
      return false;
    }
    const ptr = q.q.ptr;
    const len = q.q.len;
    if (len < ev.length) throw q.violation(len, `event buffer of ${len} bytes is smaller than the ${ev.length}-byte event`);
    if (!q.reg.memory.contains(ptr, ev.length)) throw q.violation(ptr, `event buffer at 0x${ptr.toString(16)}+${ev.length} is outside guest memory`);
    q.reg.memory.copyIn(ptr, ev, 0, ev.length);
    q.complete(ev.length);
    q.stats.frames++;
    q.stats.bytes += ev.length;
    return true;
  }

  // ---------------------------------------------------------------- rx

  /** A frame from the backend for the guest. False (counted as a drop) if it could not be placed. */
  receive(frame: Uint8Array): boolean {
    if (this.failed || this.closed || !this.linkUp || !this.rx) {
      this.device.rxDrops.linkDown++;
      this.stats.rx.drops++;
      return false;
    }
    const threshold = this.config.burstThresholdUs;
    if (threshold !== undefined) {
      const now = performance.now();
      const gapUs = (now - this.lastRxAt) * 1000;
      this.lastRxAt = now;
      if (gapUs < threshold || this.rxBacklog.length > 0) {
        // throughput mode: queue a copy and deliver from the device's bottom half
        if (this.rxBacklog.length >= this.rx.count) {
          this.device.rxDrops.backlogFull++;
          this.stats.rx.drops++;
          return false;
        }
        this.rxBacklog.push(frame.slice());
        if (!this.rxFlushScheduled) {
          this.rxFlushScheduled = true;
          this.device.context.defer(() => {
            this.rxFlushScheduled = false;
            if (!this.failed && !this.closed) this.guard('rx', () => this.drainBacklog());
          });
        }
        return true;
      }
    }
    let ok = false;
    this.guard('rx', () => {
      ok = this.placeRx(frame);
      if (ok) this.rx!.notify();
    });
    return ok;
  }

  private drainBacklog(): void {
    let placed = 0;
    // like the inline path: a frame with no posted buffer is a counted drop
    while (this.rxBacklog.length > 0 && this.linkUp) if (this.placeRx(this.rxBacklog.shift()!)) placed++;
    if (placed > 0) this.rx!.notify();
  }

  /** Copy a frame into the next posted rx buffer. Throws RingError on an ABI violation. */
  private placeRx(frame: Uint8Array): boolean {
    const rx = this.rx!;
    if (!rx.next()) {
      this.device.rxDrops.noBuffer++;
      rx.stats.drops++;
      return false;
    }
    const ptr = rx.q.ptr;
    const len = rx.q.len;
    if (frame.length > len) {
      this.device.rxDrops.tooBig++;
      rx.stats.drops++;
      return false;
    }
    if (!rx.reg.memory.contains(ptr, frame.length)) throw rx.violation(ptr, `rx buffer at 0x${ptr.toString(16)}+${len} is outside guest memory`);
    rx.reg.memory.copyIn(ptr, frame, 0, frame.length);
    rx.complete(frame.length);
    rx.stats.frames++;
    rx.stats.bytes += frame.length;
    return true;
  }

  private flushRx(): void {
    const rx = this.rx;
    if (!rx) return;
    let n = 0;
    while (n < rx.count && rx.next()) {
      rx.complete(0);
      n++;
    }
    this.discardBacklog();
    if (n > 0) rx.notify();
  }

  /**
   * Frames taken into the burst backlog (the backend was told they were delivered) that will
   * not be placed now: link down, FLUSHRX, close. Counted as rx drops, never lost silently.
   */
  private discardBacklog(): void {
    const n = this.rxBacklog.length;
    if (n === 0) return;
    this.rxBacklog.length = 0;
    this.device.rxDrops.backlogDiscarded += n;
    this.stats.rx.drops += n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.linkUp = false;
    this.discardBacklog();
    this.onClose();
  }

  counters(): Counters {
    return this.device.counters();
  }
}
