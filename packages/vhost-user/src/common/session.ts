import { RegionMemory, SHM_SIGNAL_SIZE, type DeviceConnectionHandler, type ShmSignal } from '@vbus/core';
import { VIRTIO_F_RING_PACKED, VIRTIO_SHM_CONFIG, isValidSplitSize, type VirtioNetDevice } from '@vbus/virtio-compat';
import { DeviceControl } from './device-control.js';
import { MemoryTable } from './memory-table.js';
import { safeClose, type TransitionCounters, type VhostPlatform } from './platform.js';
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
import { newVring, releaseVring, signalPair, stopKick, type Vring } from './vring.js';

export type { TransitionCounters, VhostPlatform } from './platform.js';

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
 * becomes a {@link "@vbus/core"!GuestMemory} keyed by guest physical address, ring addresses are translated
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
  private readonly device: DeviceControl;
  private readonly vrings: Vring[];
  private readonly table = new MemoryTable();
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
    this.handler = device.open({ id: options.id ?? 0, memory: this.memory });
    this.device = new DeviceControl(this.handler, options.id ?? 0);
    this.vrings = Array.from({ length: NUM_VRINGS }, (_, i) => newVring(i, options.platform, this.transitions));
    const cfg = signalPair(`config`);
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
    return this.device.error();
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
      for (const fd of owned) safeClose(this.options.platform, fd);
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
            stopKick(v);
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
        if (m.noFd ? fds.length !== 0 : fds.length !== 1)
          throw new VhostUserError(request, `queue ${m.index}: ${m.noFd ? 'the no-fd flag is set but' : 'expects exactly one fd, but'} ${fds.length} fds came`);
        const fd = m.noFd ? null : fds.pop()!;
        if (request === R.SET_VRING_KICK) {
          if (fd === null) throw new VhostUserError(request, `queue ${m.index}: polling mode (no kick fd) is not supported`);
          stopKick(v);
          safeClose(this.options.platform, v.kick);
          v.kick = fd;
          v.stopKick = this.options.platform.watch(fd, (count) => this.onKick(v, count));
          v.started = true;
          // without protocol features a ring is enabled as soon as it starts (vhost-user.rst "Ring states")
          if (!this.protocolNegotiated) v.enabled = true;
          this.maybeStart();
        } else if (request === R.SET_VRING_CALL) {
          safeClose(this.options.platform, v.call);
          v.call = fd;
        } else {
          safeClose(this.options.platform, v.err);
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
    // everything is checked and mapped first; a refused table leaves the old one in force
    const mapped = this.table.check(request, regions, fds, this.options.platform);
    // the mappings keep the memory; the fds are closed by handle()
    this.stopDevice();
    this.table.install(this.memory, regions, mapped);
    this.maybeStart();
  }

  /** Front-end (user) address → guest physical address, through the memory table. */
  translate(request: number, what: string, uva: number): number {
    return this.table.translate(request, what, uva);
  }

  private onKick(v: Vring, count: number): void {
    this.transitions.kickWakeups++;
    this.transitions.kicks += count;
    // the device's queue handler runs through the signal (its de-duplication, its counters)
    if (this.live) v.north.inject();
  }

  private ready(): boolean {
    return this.features !== null && this.table.loaded && this.vrings.every((v) => v.started && v.enabled && v.num !== null && v.addr !== null);
  }

  /** Start the device on the rings once everything it needs is there. */
  private maybeStart(): void {
    if (this.live || this.closed || !this.ready()) return;
    this.device.start(this.features!, this.vrings, this.table, this.memory);
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
    this.live = false;
    this.device.stop(this.vrings);
  }

  private reportError(): void {
    if (this.deviceError() === '') return;
    for (const v of this.vrings) if (v.err !== null) this.options.platform.signal(v.err);
  }

  /** RESET_OWNER / RESET_DEVICE: back to the state after connecting. */
  private reset(): void {
    this.stopDevice();
    for (const v of this.vrings) releaseVring(v, this.options.platform);
    this.features = null;
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
    for (const v of this.vrings) releaseVring(v, this.options.platform);
    this.handler.close();
    this.table.clear(this.memory);
  }

  /** For errors: what a request is called. */
  static describe(request: number): string {
    return requestName(request);
  }
}

/** VHOST_VRING_F_LOG as a bit number in the vring address flags. */
const VHOST_VRING_F_LOG_BIT = 0;
