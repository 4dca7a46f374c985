/**
 * The device's half of one venet guest connection, the control side: the calls (NEGCAP in the
 * order SG, EVENTQ, L4RO; MACQUERY; LINKUP/LINKDOWN; FLUSHRX; PMTDQUERY; EVQQUERY), queue
 * registration, the link state and its events, and faults. The data paths are venet-tx.ts and
 * venet-rx.ts; everything it needs of the device comes in a {@link VenetConnectionContext}.
 */
import { BusError, RingError, VbusError, le, type Counters, type DeviceConnectionHandler, type ShmRegistration } from '@vbus/core';
import * as abi from '../abi/venet-abi.js';
import { DeviceRing } from './device-ring.js';
import type { VenetConnectionContext, VenetPathHost } from './venet-context.js';
import { VenetRxPath } from './venet-rx.js';
import { VenetTxPath } from './venet-tx.js';

/** What the host offers in each capability group. */
export const VENET_HOST_CAPS: Readonly<Record<number, number>> = {
  [abi.VENET_CAP_GROUP_SG]: abi.VENET_CAP_SG | abi.VENET_CAP_TSO4 | abi.VENET_CAP_TSO6 | abi.VENET_CAP_ECN | abi.VENET_CAP_UFO | abi.VENET_CAP_PMTD,
  [abi.VENET_CAP_GROUP_EVENTQ]: abi.VENET_CAP_EVQ_LINKSTATE | abi.VENET_CAP_EVQ_TXC,
  [abi.VENET_CAP_GROUP_L4RO]: 0,
};

/** The device's half of one guest connection. */
export class VenetConnection implements DeviceConnectionHandler, VenetPathHost {
  /** Negotiated bits per capability group. */
  readonly negotiated: Record<number, number> = {};
  linkUp = false;
  evq: DeviceRing | undefined;
  pmtd: { pool: number; len: number } | undefined;
  private lastGid = -1;
  private rx: VenetRxPath | undefined;
  private tx: VenetTxPath | undefined;
  /** The event ring as registered; {@link evq} once EVQQUERY accepted it. */
  private evqRing: DeviceRing | undefined;
  private failed = false;
  private closed = false;

  constructor(
    readonly ctx: VenetConnectionContext,
    private readonly connection: { readonly id: number },
  ) {}

  /** The bus's id of this connection (read lazily: the bus assigns it after open returns). */
  get id(): number {
    return this.connection.id;
  }

  get live(): boolean {
    return !this.failed && !this.closed;
  }

  caps(gid: number): number {
    return this.negotiated[gid] ?? 0;
  }

  private has(gid: number, bit: number): boolean {
    return (this.caps(gid) & bit) !== 0;
  }

  // ---------------------------------------------------------------- calls

  call(func: number, data: Uint8Array): Uint8Array {
    const name = this.ctx.name;
    if (!this.live) throw new BusError(`${name}: connection is closed`);
    switch (func) {
      case abi.VENET_FUNC_NEGCAP:
        return this.negcap(data);
      case abi.VENET_FUNC_MACQUERY:
        return Uint8Array.from(this.ctx.config.mac);
      case abi.VENET_FUNC_LINKUP:
        if (!this.rx || !this.tx) throw new BusError(`${name}: LINKUP needs the RX (${abi.VENET_QUEUE_RX}) and TX (${abi.VENET_QUEUE_TX}) queues registered`);
        this.setLink(true);
        return new Uint8Array(0);
      case abi.VENET_FUNC_LINKDOWN:
        this.setLink(false);
        return new Uint8Array(0);
      case abi.VENET_FUNC_FLUSHRX:
        if (this.rx) this.guard('rx', () => this.rx!.flush());
        return new Uint8Array(0);
      case abi.VENET_FUNC_PMTDQUERY:
        return this.pmtdQuery(data);
      case abi.VENET_FUNC_EVQQUERY:
        return this.evqQuery(data);
      case abi.VENET_FUNC_L4ROQUERY:
        throw new BusError(`${name}: L4ROQUERY refused: L4RO is not negotiated (this host offers no L4RO capabilities)`);
      default:
        throw new BusError(`${name}: unknown venet call ${func}`);
    }
  }

  private argument(func: string, data: Uint8Array, size: number): Uint8Array {
    if (data.length !== size) throw new BusError(`${this.ctx.name}: ${func} takes ${size} bytes, got ${data.length}`);
    return data.slice();
  }

  private negcap(data: Uint8Array): Uint8Array {
    const name = this.ctx.name;
    const d = this.argument('NEGCAP', data, abi.VENET_CAPS_SIZE);
    if (this.linkUp) throw new BusError(`${name}: NEGCAP refused: the link is up`);
    const gid = le.getU32(d, abi.VENET_CAPS_OFF_GID);
    const requested = le.getU32(d, abi.VENET_CAPS_OFF_BITS);
    if (gid < this.lastGid)
      throw new BusError(
        `${name}: NEGCAP refused: group ${gid} after group ${this.lastGid} (the order is SG ${abi.VENET_CAP_GROUP_SG}, EVENTQ ${abi.VENET_CAP_GROUP_EVENTQ}, L4RO ${abi.VENET_CAP_GROUP_L4RO})`,
      );
    const granted = ((VENET_HOST_CAPS[gid] ?? 0) & requested) >>> 0;
    if (gid in VENET_HOST_CAPS) {
      this.lastGid = gid;
      this.negotiated[gid] = granted;
    }
    const reply = new Uint8Array(abi.VENET_CAPS_SIZE);
    le.setU32(reply, abi.VENET_CAPS_OFF_GID, gid);
    le.setU32(reply, abi.VENET_CAPS_OFF_BITS, granted);
    return reply;
  }

  private pmtdQuery(data: Uint8Array): Uint8Array {
    const name = this.ctx.name;
    const d = this.argument('PMTDQUERY', data, abi.VENET_PMTD_QUERY_SIZE);
    if (!this.has(abi.VENET_CAP_GROUP_SG, abi.VENET_CAP_PMTD)) throw new BusError(`${name}: PMTDQUERY refused: PMTD is not negotiated`);
    if (this.linkUp) throw new BusError(`${name}: PMTDQUERY refused: the link is up`);
    const pool = le.getU64(d, abi.VENET_PMTD_OFF_POOL);
    const len = le.getU32(d, abi.VENET_PMTD_OFF_LEN);
    const mem = this.tx?.ring.reg.memory ?? this.rx?.ring.reg.memory;
    if (!mem) throw new BusError(`${name}: PMTDQUERY needs the TX queue registered first`);
    if (len < abi.venetSgSize(1) || !mem.contains(pool, len)) throw new BusError(`${name}: PMTDQUERY: pool 0x${pool.toString(16)}+${len} is not inside guest memory`);
    this.pmtd = { pool, len };
    return new Uint8Array(0);
  }

  private evqQuery(data: Uint8Array): Uint8Array {
    const name = this.ctx.name;
    const d = this.argument('EVQQUERY', data, abi.VENET_EVQ_QUERY_SIZE);
    if (!this.negotiated[abi.VENET_CAP_GROUP_EVENTQ]) throw new BusError(`${name}: EVQQUERY refused: no EVENTQ capability is negotiated`);
    if (this.linkUp) throw new BusError(`${name}: EVQQUERY refused: the link is up`);
    const flags = le.getU32(d, abi.VENET_EVQ_OFF_FLAGS);
    const evsize = le.getU32(d, abi.VENET_EVQ_OFF_EVSIZE);
    const qid = le.getU32(d, abi.VENET_EVQ_OFF_QID);
    if (flags !== 0) throw new BusError(`${name}: EVQQUERY: flags must be 0, got ${flags}`);
    if (evsize < abi.VENET_EVENT_MAX_SIZE || evsize > 4096) throw new BusError(`${name}: EVQQUERY: evsize ${evsize} must be in [${abi.VENET_EVENT_MAX_SIZE}, 4096]`);
    if (qid !== abi.VENET_QUEUE_EVQ || !this.evqRing)
      throw new BusError(`${name}: EVQQUERY: queue ${qid} is not a registered event ring (register it with shm id ${abi.VENET_QUEUE_EVQ} first)`);
    this.evq = this.evqRing;
    return new Uint8Array(0);
  }

  private setLink(up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    if (!up) this.rx?.discardBacklog();
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
    const name = this.ctx.name;
    if (!this.live) throw new BusError(`${name}: connection is closed`);
    const signal = reg.signal;
    if (!signal) throw new BusError(`${name}: queue ${reg.id} needs a signal`);
    const which = reg.id === abi.VENET_QUEUE_RX ? 'rx' : reg.id === abi.VENET_QUEUE_TX ? 'tx' : reg.id === abi.VENET_QUEUE_EVQ ? 'evq' : undefined;
    if (!which) throw new BusError(`${name}: unknown venet queue id ${reg.id} (RX ${abi.VENET_QUEUE_RX}, TX ${abi.VENET_QUEUE_TX}, EVQ ${abi.VENET_QUEUE_EVQ})`);
    if (this.linkUp) throw new BusError(`${name}: queue ${reg.id} registered while the link is up`);
    const ring = new DeviceRing(reg, signal, `${name}.${which}`, this.ctx.config.ringSize, this.ctx.stats[which]);
    if (which === 'rx') {
      const rx = (this.rx = new VenetRxPath(this, ring));
      signal.handler = () => rx.onKick();
    } else if (which === 'tx') {
      const tx = (this.tx = new VenetTxPath(this, ring));
      signal.handler = () => tx.onKick();
    } else {
      this.evqRing = ring;
      signal.handler = () => {
        this.ctx.stats.evq.kicks++;
      };
    }
  }

  // ---------------------------------------------------------------- events

  pushEvent(ev: Uint8Array): boolean {
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

  // ---------------------------------------------------------------- rx from the backend

  /** A frame from the backend for the guest. False (counted as a drop) if it could not be placed. */
  receive(frame: Uint8Array, more = false): boolean {
    if (!this.live || !this.linkUp || !this.rx) {
      this.ctx.rxDrops.linkDown++;
      this.ctx.stats.rx.drops++;
      if (!more) this.endRxBurst();
      return false;
    }
    return this.rx.receive(frame, more);
  }

  /** The backend's burst ended (its `flush()`): notify the guest of what it placed. */
  endRxBurst(): void {
    if (this.live) this.rx?.endBurst();
  }

  // ---------------------------------------------------------------- faults

  guard(queue: 'rx' | 'tx' | 'evq', fn: () => void): boolean {
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
    const ring = queue === 'rx' ? this.rx?.ring : queue === 'tx' ? this.tx?.ring : this.evqRing;
    let err: unknown = error;
    if (!RingError.is(error)) {
      const msg = error instanceof Error ? error.message : String(error);
      err = new RingError(ring?.name ?? `${this.ctx.name}.${queue}`, ring?.pos ?? -1, 0, VbusError.is(error) ? msg : `unexpected error: ${msg}`);
    }
    this.ctx.fail(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.linkUp = false;
    this.rx?.discardBacklog();
    this.ctx.closed();
  }

  counters(): Counters {
    return this.ctx.counters();
  }
}
