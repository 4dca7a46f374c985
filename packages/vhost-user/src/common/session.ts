import { RegionMemory, ShmSignal, SHM_SIGNAL_SIZE, Side, le, type DeviceConnectionHandler, type GuestMemory } from '@vbus/core';
import {
  VIRTIO_CALL_GET_ERROR,
  VIRTIO_CALL_GET_STATUS,
  VIRTIO_CALL_QUEUE_ENABLE,
  VIRTIO_CALL_QUEUE_GET_STATE,
  VIRTIO_CALL_QUEUE_SELECT,
  VIRTIO_CALL_QUEUE_SET_ADDR,
  VIRTIO_CALL_QUEUE_SET_SIZE,
  VIRTIO_CALL_QUEUE_SET_STATE,
  VIRTIO_CALL_SET_DRIVER_FEATURES,
  VIRTIO_CALL_SET_STATUS,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_RING_PACKED,
  VIRTIO_SHM_CONFIG,
  VIRTQ_USED_IDX,
  isValidSplitSize,
  u32Args,
  type VirtioNetDevice,
} from '@vbus/virtio-compat';
import {
  VHOST_F_LOG_ALL,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VhostUserError,
  VhostUserRequest as R,
  encodeReply,
  requestName,
  statePayload,
  u64Payload,
  type VhostUserHeader,
  type VhostUserMemoryRegion,
  type VhostUserMessage,
} from './protocol.js';

/**
 * What the session needs from the operating system, so that the protocol logic stays in common/
 * and is tested without sockets: the node/ side implements it with the native addon.
 */
export interface VhostPlatform {
  /** Map the first `length` bytes of `fd` shared and read-write. Throws if it cannot. */
  map(fd: number, length: number): SharedArrayBuffer;
  close(fd: number): void;
  /** Watch eventfd `fd`; `onKick(count)` runs with the counter read each time it fires. Returns a stop function. */
  watch(fd: number, onKick: (count: number) => void): () => void;
  /** Add one to eventfd `fd`. */
  signal(fd: number): void;
  /** True if eventfd `fd` was written and its consumer has not read it yet (optional: without it every call is written). */
  pending?(fd: number): boolean;
}

/** Guest↔host transitions as the eventfds saw them: the figure notification prevention is about. */
export interface TransitionCounters {
  /** Guest notifications (kicks): the sum of the kick eventfds' counters. */
  kicks: number;
  /** Times a kick eventfd woke us (several kicks can arrive in one wake). */
  kickWakeups: number;
  /** Writes to the call eventfds (interrupts requested from the front end). */
  calls: number;
  /** Used-buffer notifications not sent because the vring had no call fd. */
  callsSuppressed: number;
  /**
   * Calls not written because the call eventfd still held an unread one: the front end will read
   * it and interrupt the guest after our used-ring writes, so one interrupt covers both.
   */
  callsCoalesced: number;
}

/** One vring as the front end configured it. */
interface Vring {
  num: number | null;
  /** Ring addresses in the front end's address space (translated at start). */
  addr: { desc: number; used: number; avail: number } | null;
  /** Next avail index to process (SET_VRING_BASE; updated by GET_VRING_BASE). */
  base: number;
  kick: number | null;
  stopKick: (() => void) | null;
  /** A kick fd (or no-fd polling) was given since the last stop: the ring is started. */
  started: boolean;
  call: number | null;
  err: number | null;
  enabled: boolean;
  /** The signal between the kick/call eventfds and the device's queue. */
  north: ShmSignal;
  south: ShmSignal;
}

/** Options of a {@link VhostUserSession}. */
export interface VhostUserSessionOptions {
  /** The virtio-net device served (one pair of queues: rx 0, tx 1). */
  readonly device: VirtioNetDevice;
  readonly platform: VhostPlatform;
  /** Connection id given to the device. */
  readonly id?: number;
  /** Virtio features to hide from the front end (e.g. EVENT_IDX to measure without it). */
  readonly maskFeatures?: bigint;
  /** Largest queue size accepted (SET_VRING_NUM). Default: the device's maxQueueSize. */
  readonly maxQueueSize?: number;
}

const NUM_VRINGS = 2;
const PROTOCOL_FEATURES = 1n << BigInt(VHOST_USER_PROTOCOL_F_REPLY_ACK);
const bit = (n: number): bigint => 1n << BigInt(n);

/**
 * One front end's session with the back end: the vhost-user state machine over a virtio-net
 * device connection. It drives the device through the same register interface a vbus guest
 * uses (features, queue setup, DRIVER_OK), so the device code runs unchanged; the memory table
 * becomes a {@link GuestMemory} keyed by guest physical address, ring addresses are translated
 * from the front end's addresses through the table, kicks arrive through the kick eventfds and
 * interrupts leave through the call eventfds. Every value from the front end is checked; a
 * violation throws {@link VhostUserError} and the owner closes the connection.
 */
export class VhostUserSession {
  /** The guest's memory, as the front end's table maps it. */
  readonly memory: RegionMemory = new RegionMemory();
  readonly transitions: TransitionCounters = { kicks: 0, kickWakeups: 0, calls: 0, callsSuppressed: 0, callsCoalesced: 0 };
  /** Times the device started on the front end's rings (a stop and a restart count again). */
  starts = 0;
  private readonly handler: DeviceConnectionHandler;
  /** The connection id the device was opened with (ShmRegistration.connection). */
  private readonly connectionId: number;
  private readonly vrings: Vring[];
  private table: VhostUserMemoryRegion[] = [];
  private features: bigint | null = null;
  private protocolFeatures = 0n;
  /** SET_FEATURES included VHOST_USER_F_PROTOCOL_FEATURES: rings start disabled until SET_VRING_ENABLE. */
  private protocolNegotiated = false;
  private live = false;
  private closed = false;
  private readonly offered: bigint;
  private readonly maxQueueSize: number;
  private readonly configNorth: ShmSignal;

  constructor(private readonly options: VhostUserSessionOptions) {
    const { device } = options;
    if (device.config.queuePairs !== 1) throw new VhostUserError(0, `the device has ${device.config.queuePairs} queue pairs; the back end serves one (MQ is not offered)`);
    this.maxQueueSize = options.maxQueueSize ?? device.config.maxQueueSize;
    // split rings only: vhost-user's packed-ring base encoding is not implemented
    const deviceFeatures = device.config.features & ~bit(VIRTIO_F_RING_PACKED) & ~(options.maskFeatures ?? 0n);
    this.offered = deviceFeatures | bit(32) /* VERSION_1 */ | bit(VHOST_USER_F_PROTOCOL_FEATURES);
    this.connectionId = options.id ?? 0;
    this.handler = device.open({ id: this.connectionId, memory: this.memory });
    this.vrings = Array.from({ length: NUM_VRINGS }, (_, i) => this.newVring(i));
    const cfg = this.signalPair(`config`);
    this.configNorth = cfg.north;
    // a configuration change from the device: the only one we can pass on is DEVICE_NEEDS_RESET, on the err eventfds
    this.configNorth.handler = () => this.reportError();
    this.handler.shm({ id: VIRTIO_SHM_CONFIG, connection: options.id ?? 0, address: 0, length: SHM_SIGNAL_SIZE, memory: this.memory, signal: cfg.south });
  }

  /** Features offered in GET_FEATURES. */
  get offeredFeatures(): bigint {
    return this.offered;
  }
  /** Virtio features the front end set (without PROTOCOL_FEATURES), or null before SET_FEATURES. */
  get negotiatedFeatures(): bigint | null {
    return this.features;
  }
  /** True while the device is running on the front end's rings. */
  get running(): boolean {
    return this.live;
  }
  /** The device connection's counters (per queue: frames, drops, kicks, interrupts...). */
  counters(): Record<string, unknown> {
    return { ...(this.handler.counters?.() ?? {}), transitions: { ...this.transitions } };
  }
  /** The device's DEVICE_NEEDS_RESET error, or ''. */
  deviceError(): string {
    return new TextDecoder().decode(this.call(VIRTIO_CALL_GET_ERROR, new Uint8Array(0)));
  }

  private signalPair(name: string): { north: ShmSignal; south: ShmSignal } {
    const cells = new Int32Array(new SharedArrayBuffer(SHM_SIGNAL_SIZE));
    ShmSignal.format(cells);
    // direct wakes: a kick runs the device's queue work at once, an interrupt writes the call eventfd at once
    const north: ShmSignal = new ShmSignal(cells, Side.North, () => south.wakeup(), `${name}.north`);
    const south: ShmSignal = new ShmSignal(cells, Side.South, () => north.wakeup(), `${name}.south`);
    return { north, south };
  }

  private newVring(i: number): Vring {
    const { north, south } = this.signalPair(`vring${i}`);
    const v: Vring = { num: null, addr: null, base: 0, kick: null, stopKick: null, started: false, call: null, err: null, enabled: false, north, south };
    north.handler = () => {
      if (v.call === null) {
        this.transitions.callsSuppressed++;
        return;
      }
      // sound: the used ring was written before this check, and a consumer that has not read the
      // eventfd yet raises its interrupt after it reads, so the guest sees these entries then
      if (this.options.platform.pending?.(v.call) === true) {
        this.transitions.callsCoalesced++;
        return;
      }
      this.transitions.calls++;
      this.options.platform.signal(v.call);
    };
    return v;
  }

  private call(func: number, data: Uint8Array): Uint8Array {
    const r = this.handler.call(func, data);
    if (r instanceof Promise) throw new VhostUserError(0, 'internal: the device answered asynchronously');
    return r;
  }

  /**
   * Handle one message; returns the reply to send (or null). Takes ownership of `fds`: each is
   * kept or closed, also when this throws.
   */
  handle(header: VhostUserHeader, message: VhostUserMessage, fds: number[]): Uint8Array | null {
    const owned = [...fds];
    try {
      const reply = this.dispatch(header.request, message, owned);
      if (reply !== null) return reply;
      if ((header.flags & VHOST_USER_NEED_REPLY_MASK) !== 0 && (this.protocolFeatures & PROTOCOL_FEATURES) !== 0n) return encodeReply(header.request, u64Payload(0));
      return null;
    } finally {
      // fds the request did not take (dispatch empties `owned` of those it keeps)
      for (const fd of owned) this.safeClose(fd);
    }
  }

  private vring(request: number, index: number): Vring {
    const v = this.vrings[index];
    if (v === undefined) throw new VhostUserError(request, `queue index ${index} is not in 0..${NUM_VRINGS - 1} (rx 0, tx 1; MQ is not offered)`);
    return v;
  }

  private noFds(request: number, fds: number[]): void {
    if (fds.length !== 0) throw new VhostUserError(request, `takes no fds, got ${fds.length}`);
  }

  private dispatch(request: number, m: VhostUserMessage, fds: number[]): Uint8Array | null {
    if (this.closed) throw new VhostUserError(request, 'the session is closed');
    switch (m.kind) {
      case 'none':
        this.noFds(request, fds);
        switch (request) {
          case R.GET_FEATURES:
            return encodeReply(request, u64Payload(this.offered));
          case R.GET_PROTOCOL_FEATURES:
            return encodeReply(request, u64Payload(PROTOCOL_FEATURES));
          case R.SET_OWNER:
            return null;
          case R.RESET_OWNER:
          case R.RESET_DEVICE:
            this.reset();
            return null;
          case R.GET_QUEUE_NUM:
            // only valid with PROTOCOL_F_MQ, which is not offered
            throw new VhostUserError(request, 'GET_QUEUE_NUM needs VHOST_USER_PROTOCOL_F_MQ, which was not offered');
          default:
            throw new VhostUserError(request, 'is not supported by this back end (nothing it needs was offered)');
        }
      case 'u64':
        this.noFds(request, fds);
        if (request === R.SET_FEATURES) {
          const f = m.value;
          if ((f & ~this.offered) !== 0n) throw new VhostUserError(request, `features 0x${f.toString(16)} include bits not offered (0x${(f & ~this.offered).toString(16)})`);
          if ((f & bit(VHOST_F_LOG_ALL)) !== 0n) throw new VhostUserError(request, 'LOG_ALL was not offered');
          this.protocolNegotiated = (f & bit(VHOST_USER_F_PROTOCOL_FEATURES)) !== 0n;
          const virtio = f & ~bit(VHOST_USER_F_PROTOCOL_FEATURES);
          if (virtio !== this.features) {
            this.stopDevice();
            this.features = virtio;
          }
          this.maybeStart();
          return null;
        }
        // SET_PROTOCOL_FEATURES
        if ((m.value & ~PROTOCOL_FEATURES) !== 0n) throw new VhostUserError(request, `protocol features 0x${m.value.toString(16)} include bits not offered`);
        this.protocolFeatures = m.value;
        return null;
      case 'state': {
        this.noFds(request, fds);
        const v = this.vring(request, m.index);
        switch (request) {
          case R.SET_VRING_NUM:
            if (!isValidSplitSize(m.num) || m.num > this.maxQueueSize)
              throw new VhostUserError(request, `queue ${m.index} size ${m.num} must be a power of two in 1..${this.maxQueueSize}`);
            this.changeRing(() => (v.num = m.num));
            return null;
          case R.SET_VRING_BASE:
            if (m.num > 0xffff) throw new VhostUserError(request, `queue ${m.index} base ${m.num} is not a u16 ring index (split rings)`);
            this.changeRing(() => (v.base = m.num));
            return null;
          case R.GET_VRING_BASE: {
            // stops the ring (vhost-user.rst): the device stops, every ring's position is kept
            this.stopDevice();
            this.stopKick(v);
            v.started = false;
            return encodeReply(request, statePayload(m.index, v.base));
          }
          default: // SET_VRING_ENABLE
            if (m.num > 1) throw new VhostUserError(request, `queue ${m.index} enable value ${m.num} must be 0 or 1`);
            if ((m.num === 1) !== v.enabled) this.changeRing(() => (v.enabled = m.num === 1));
            return null;
        }
      }
      case 'addr': {
        this.noFds(request, fds);
        const v = this.vring(request, m.index);
        if ((m.flags & ~(1 << VHOST_VRING_F_LOG_BIT)) !== 0) throw new VhostUserError(request, `queue ${m.index}: unknown address flags 0x${m.flags.toString(16)}`);
        if ((m.flags & (1 << VHOST_VRING_F_LOG_BIT)) !== 0) throw new VhostUserError(request, `queue ${m.index}: used-ring logging asked, but LOG_ALL was not offered`);
        this.changeRing(() => (v.addr = { desc: m.desc, used: m.used, avail: m.avail }));
        return null;
      }
      case 'fd': {
        const v = this.vring(request, m.index);
        if (m.noFd ? fds.length !== 0 : fds.length !== 1) throw new VhostUserError(request, `queue ${m.index}: ${m.noFd ? 'the no-fd flag is set but' : 'expects exactly one fd, but'} ${fds.length} fds came`);
        const fd = m.noFd ? null : fds.pop()!;
        if (request === R.SET_VRING_KICK) {
          if (fd === null) throw new VhostUserError(request, `queue ${m.index}: polling mode (no kick fd) is not supported`);
          this.stopKick(v);
          this.safeCloseNullable(v.kick);
          v.kick = fd;
          v.stopKick = this.options.platform.watch(fd, (count) => this.onKick(v, count));
          v.started = true;
          // without protocol features a ring is enabled as soon as it starts (vhost-user.rst "Ring states")
          if (!this.protocolNegotiated) v.enabled = true;
          this.maybeStart();
        } else if (request === R.SET_VRING_CALL) {
          this.safeCloseNullable(v.call);
          v.call = fd;
        } else {
          this.safeCloseNullable(v.err);
          v.err = fd;
        }
        return null;
      }
      case 'mem':
        this.setMemTable(request, m.regions, fds);
        return null;
    }
  }

  /** A ring parameter changes: stop the device if it runs (keeping positions), apply, start again when ready. */
  private changeRing(apply: () => void): void {
    this.stopDevice();
    apply();
    this.maybeStart();
  }

  private setMemTable(request: number, regions: readonly VhostUserMemoryRegion[], fds: number[]): void {
    if (fds.length !== regions.length) throw new VhostUserError(request, `${regions.length} regions need ${regions.length} fds, got ${fds.length}`);
    // check everything first; a refused table leaves the old one in force
    const limit = 2 ** 32; // one SharedArrayBuffer per region mapping (typed-array limit)
    regions.forEach((r, i) => {
      const where = `region ${i} (guest 0x${r.guestAddress.toString(16)}, size 0x${r.size.toString(16)}, user 0x${r.userAddress.toString(16)}, offset 0x${r.mmapOffset.toString(16)})`;
      if (r.size <= 0) throw new VhostUserError(request, `${where}: size must be positive`);
      if (!Number.isSafeInteger(r.guestAddress + r.size) || !Number.isSafeInteger(r.userAddress + r.size))
        throw new VhostUserError(request, `${where}: ends beyond 2^53`);
      if (r.mmapOffset + r.size > limit) throw new VhostUserError(request, `${where}: offset + size exceeds ${limit} bytes (mappings are limited to 4 GiB)`);
      for (let j = 0; j < i; j++) {
        const o = regions[j]!;
        if (r.guestAddress < o.guestAddress + o.size && o.guestAddress < r.guestAddress + r.size) throw new VhostUserError(request, `${where}: overlaps region ${j} in guest addresses`);
        if (r.userAddress < o.userAddress + o.size && o.userAddress < r.userAddress + r.size) throw new VhostUserError(request, `${where}: overlaps region ${j} in front-end addresses`);
      }
    });
    const mapped: SharedArrayBuffer[] = [];
    regions.forEach((r, i) => {
      try {
        mapped.push(this.options.platform.map(fds[i]!, r.mmapOffset + r.size));
      } catch (e) {
        throw new VhostUserError(request, `region ${i}: cannot map fd: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    // the mappings keep the memory; the fds are closed by handle()
    this.stopDevice();
    for (const r of this.memory.regions()) this.memory.removeRegion(r.address);
    regions.forEach((r, i) => this.memory.addRegion(r.guestAddress, mapped[i]!, r.mmapOffset, r.size));
    this.table = [...regions];
    this.maybeStart();
  }

  /** Front-end (user) address → guest physical address, through the memory table. */
  translate(request: number, what: string, uva: number): number {
    for (const r of this.table) {
      if (uva >= r.userAddress && uva < r.userAddress + r.size) return r.guestAddress + (uva - r.userAddress);
    }
    throw new VhostUserError(request, `${what} address 0x${uva.toString(16)} is in no region of the memory table`);
  }

  private onKick(v: Vring, count: number): void {
    this.transitions.kickWakeups++;
    this.transitions.kicks += count;
    // the device's queue handler runs through the signal (its de-duplication, its counters)
    if (this.live) v.north.inject();
  }

  private ready(): boolean {
    return this.features !== null && this.table.length > 0 && this.vrings.every((v) => v.started && v.enabled && v.num !== null && v.addr !== null);
  }

  /** Start the device on the rings once everything it needs is there. */
  private maybeStart(): void {
    if (this.live || this.closed || !this.ready()) return;
    const S = { A: VIRTIO_CONFIG_S_ACKNOWLEDGE, D: VIRTIO_CONFIG_S_DRIVER, F: VIRTIO_CONFIG_S_FEATURES_OK, OK: VIRTIO_CONFIG_S_DRIVER_OK };
    const status = (s: number): void => void this.call(VIRTIO_CALL_SET_STATUS, u32Args(s));
    const f = this.features!;
    status(0);
    status(S.A);
    status(S.A | S.D);
    this.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(0, Number(f & 0xffff_ffffn)));
    this.call(VIRTIO_CALL_SET_DRIVER_FEATURES, u32Args(1, Number((f >> 32n) & 0xffff_ffffn)));
    status(S.A | S.D | S.F);
    if ((le.getU32(this.call(VIRTIO_CALL_GET_STATUS, new Uint8Array(0)), 0) & S.F) === 0)
      throw new VhostUserError(R.SET_FEATURES, `the device refused features 0x${f.toString(16)}`);
    this.vrings.forEach((v, i) => {
      const a = v.addr!;
      const desc = this.translate(R.SET_VRING_ADDR, `queue ${i} descriptor table`, a.desc);
      const avail = this.translate(R.SET_VRING_ADDR, `queue ${i} available ring`, a.avail);
      const used = this.translate(R.SET_VRING_ADDR, `queue ${i} used ring`, a.used);
      this.call(VIRTIO_CALL_QUEUE_SELECT, u32Args(i));
      this.call(VIRTIO_CALL_QUEUE_SET_SIZE, u32Args(v.num!));
      const addr = new Uint8Array(24);
      le.setU64(addr, 0, desc);
      le.setU64(addr, 8, avail);
      le.setU64(addr, 16, used);
      this.call(VIRTIO_CALL_QUEUE_SET_ADDR, addr);
      // the used index is the ring's own (the front end kept the ring); the avail position is the base
      let nextUsed = 0;
      if (this.memory.contains(used + VIRTQ_USED_IDX, 2)) nextUsed = le.getU16(this.memory.view(used + VIRTQ_USED_IDX, 2), 0);
      // buffers taken but never returned before the stop are offered again (as libvhost-user does)
      this.call(VIRTIO_CALL_QUEUE_SET_STATE, u32Args(nextUsed === v.base ? v.base : nextUsed, nextUsed));
      this.handler.shm({ id: i, connection: this.connectionId, address: used, length: 0, memory: this.memory, signal: v.south });
      this.call(VIRTIO_CALL_QUEUE_ENABLE, new Uint8Array(0));
    });
    status(S.A | S.D | S.F | S.OK);
    this.live = true;
    this.starts++;
    // kicks that came before the start are not lost: look at the rings once
    for (const v of this.vrings) v.north.inject();
    const err = this.deviceError();
    if (err !== '') throw new VhostUserError(R.SET_VRING_KICK, `the device failed to start: ${err}`);
  }

  /** Stop the device if it runs, keeping each ring's position for GET_VRING_BASE and a restart. */
  private stopDevice(): void {
    if (!this.live) return;
    this.vrings.forEach((v, i) => {
      try {
        v.base = le.getU32(this.call(VIRTIO_CALL_QUEUE_GET_STATE, u32Args(i)), 0);
      } catch {
        // a queue the device failed: its position is lost; the front end resets it anyway
      }
    });
    this.live = false;
    this.call(VIRTIO_CALL_SET_STATUS, u32Args(0));
  }

  private reportError(): void {
    if (this.deviceError() === '') return;
    for (const v of this.vrings) if (v.err !== null) this.options.platform.signal(v.err);
  }

  private stopKick(v: Vring): void {
    v.stopKick?.();
    v.stopKick = null;
  }

  /** RESET_OWNER / RESET_DEVICE: back to the state after connecting. */
  private reset(): void {
    this.stopDevice();
    for (const v of this.vrings) this.releaseVring(v);
    this.features = null;
  }

  private releaseVring(v: Vring): void {
    this.stopKick(v);
    this.safeCloseNullable(v.kick);
    this.safeCloseNullable(v.call);
    this.safeCloseNullable(v.err);
    Object.assign(v, { num: null, addr: null, base: 0, kick: null, call: null, err: null, started: false, enabled: false });
  }

  /** The connection is gone: stop the device, close every fd, drop the mappings. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.stopDevice();
    } catch {
      /* closing never throws */
    }
    this.closed = true;
    for (const v of this.vrings) this.releaseVring(v);
    this.handler.close();
    for (const r of this.memory.regions()) this.memory.removeRegion(r.address);
    this.table = [];
  }

  private safeClose(fd: number): void {
    try {
      this.options.platform.close(fd);
    } catch {
      /* already closed */
    }
  }
  private safeCloseNullable(fd: number | null): void {
    if (fd !== null) this.safeClose(fd);
  }

  /** For errors: what a request is called. */
  static describe(request: number): string {
    return requestName(request);
  }
}

/** VHOST_VRING_F_LOG as a bit number in the vring address flags. */
const VHOST_VRING_F_LOG_BIT = 0;
