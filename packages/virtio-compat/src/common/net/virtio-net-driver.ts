// The virtio-net guest driver: bring-up, transmit, the NAPI wiring of receive, recover. The
// receive path itself is in virtio-net-driver-rx.ts, the transmit path in virtio-net-driver-tx.ts,
// bring-up steps in virtio-net-driver-setup.ts, the control-queue client in
// virtio-net-driver-control.ts, options/counters/queue state in virtio-net-driver-types.ts; the
// loop it shares with venet is @vbus/net's NapiPoll. About 350 lines of code after a 50-line
// import list (the ABI constants it uses).
import { BusError, checkPollTurns, cryptoRandomSource, type GuestAllocator, type GuestConnection, type ShmSignal } from '@vbus/core';
import { NapiPoll, PollBatch, SEND_NOW, type FrameHandler, type GuestNic, type GuestNicStats, type NicSendOptions, type NicSignalCounters } from '@vbus/net';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  hasFeature,
} from '../virtqueue/layout.js';
import { VirtioTransportClient } from '../transport/transport-client.js';
import {
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_LINK_UP,
  ctrlQueueIndex,
  rxQueueIndex,
  txQueueIndex,
} from './virtio-net-abi.js';
import { VIRTIO_NET_IMPLEMENTED_FEATURES } from './features.js';
import { negotiate, setupDriverQueue } from './virtio-net-driver-setup.js';
import { ControlClient } from './virtio-net-driver-control.js';
import { RxPath } from './virtio-net-driver-rx.js';
import { TxPath } from './virtio-net-driver-tx.js';
import { newDriverCounters, type DriverQueue, type VirtioNetDriverCounters, type VirtioNetDriverOptions } from './virtio-net-driver-types.js';

export type { VirtioNetDriverCounters, VirtioNetDriverOptions } from './virtio-net-driver-types.js';

/** What onFrame reads as before a handler is attached (no frame reaches it: the loops are held). */
const ignoreFrame: FrameHandler = () => {};
/** Features the driver knows how to use. */
export const VIRTIO_NET_DRIVER_FEATURES: bigint = VIRTIO_NET_IMPLEMENTED_FEATURES;

/**
 * A virtio-net guest driver doing what Linux's virtio_net does: reset, ACKNOWLEDGE, DRIVER,
 * feature negotiation checked by reading FEATURES_OK back, queues (split or packed), rx filled,
 * DRIVER_OK. Transmit kicks only at the end of a batch and only when the device asked
 * (`needsKick`); receive is NAPI: the first interrupt masks interrupts, polls up to a weight per
 * turn through `conn.defer`, refills, and unmasks with a re-check (@vbus/net's {@link NapiPoll},
 * shared with venet).
 *
 * A {@link GuestNic}, as venet's driver: `attachPeer(driver, responder)` runs a GuestResponder on it.
 */
export class VirtioNetDriver implements GuestNic {
  readonly kind = 'virtio-net';
  /**
   * Called for each received frame; the frame view and the offload object are valid only during
   * the call (copy what you keep). Until it is first set, received frames wait in the rx rings
   * (the NAPI loops are held): none is consumed with nobody to take it.
   */
  get onFrame(): FrameHandler {
    return this.frameHandler ?? ignoreFrame;
  }
  set onFrame(handler: FrameHandler) {
    this.frameHandler = handler;
    for (const q of this.rx) q.napi?.release();
  }
  private frameHandler: FrameHandler | undefined;
  /** GuestNic: called when tx buffers were freed after a send refused for a full ring. */
  onTxWake: () => void = () => {};
  /** A send was refused for a full ring and onTxWake has not been called since. */
  private txStopped = false;
  /** CSUM and MRG_RXBUF negotiated (see init). */
  private csum = false;
  private mergeable = false;
  private readonly txWakeNow = (): void => {
    if (!this.txStopped) return;
    this.txStopped = false;
    this.onTxWake();
  };
  /** Called when the link state changes or the device needs a reset. */
  onConfigChange: (status: { link: boolean; needsReset: boolean }) => void = () => {};
  readonly counters: VirtioNetDriverCounters = newDriverCounters();
  readonly transport: VirtioTransportClient;
  features = 0n;
  mac: Uint8Array = new Uint8Array(6);
  mtu = 1500;
  maxPairs = 1;
  link = true;
  private rx: DriverQueue[] = [];
  private tx: DriverQueue[] = [];
  private ctrl: DriverQueue | undefined;
  private readonly txPath: TxPath;
  private readonly options: Required<Omit<VirtioNetDriverOptions, 'features'>> & { features: bigint };
  private readonly rxPath: RxPath;
  private control: ControlClient | undefined;
  /** Sends made inside an rx poll (replies) kick once when the poll ends, per tx pair. */
  private readonly kickAfterPoll: boolean[] = [];
  private readonly pollBatch = new PollBatch(() => this.kickAfterPolls());
  private readonly signals = new Map<number, ShmSignal>();
  private configSignal: ShmSignal | undefined;

  private constructor(
    readonly conn: GuestConnection,
    private readonly allocator: GuestAllocator,
    options: VirtioNetDriverOptions,
  ) {
    this.transport = new VirtioTransportClient(conn, allocator);
    this.txPath = new TxPath(conn.memory);
    // getters, not values: negotiation and onFrame come later; arrow functions keep `this`
    const mergeable = (): boolean => this.mergeable;
    const frameHandler = (): FrameHandler | undefined => this.frameHandler;
    this.rxPath = new RxPath({
      memory: conn.memory,
      counters: this.counters,
      get mergeable() {
        return mergeable();
      },
      get frameHandler() {
        return frameHandler();
      },
    });
    this.options = {
      ring: options.ring ?? 'split',
      queueSize: options.queueSize ?? 256,
      features: options.features ?? VIRTIO_NET_DRIVER_FEATURES,
      queuePairs: options.queuePairs ?? 1,
      rxBufferSize: options.rxBufferSize ?? 2048,
      txBufferSize: options.txBufferSize ?? 2048,
      pollWeight: options.pollWeight ?? 64,
      rxPollTurns: checkPollTurns(options.rxPollTurns, 0, 'rxPollTurns'),
      random: options.random ?? cryptoRandomSource,
    };
  }

  /** Bring the device up (the whole §3.1.1 sequence). Throws if the device refuses the features. */
  static async open(conn: GuestConnection, allocator: GuestAllocator, options: VirtioNetDriverOptions = {}): Promise<VirtioNetDriver> {
    const d = new VirtioNetDriver(conn, allocator, options);
    await d.init();
    return d;
  }

  /**
   * Reset the device and bring it up again (after DEVICE_NEEDS_RESET, say): fresh rings and
   * buffers, the same signals (shm registrations live as long as the connection).
   */
  async recover(): Promise<void> {
    const old = [...this.rx, ...this.tx, ...(this.ctrl ? [this.ctrl] : [])];
    this.rx = [];
    this.tx = [];
    this.ctrl = undefined;
    this.rxPath.reset(); // the new rings get new buffers
    this.txPath.reset();
    this.control?.cancelAll();
    this.control = undefined;
    await this.init();
    void old; // their memory stays allocated: the device may still have been writing into it
  }

  private async init(): Promise<void> {
    const t = this.transport;
    const name = this.conn.device.name;
    const n = await negotiate(t, name, VIRTIO_NET_DRIVER_FEATURES & this.options.features, this.options.ring, this.options.random);
    this.features = n.features;
    // read per frame: kept as booleans (hasFeature makes BigInts)
    this.csum = this.has(VIRTIO_NET_F_CSUM);
    this.mergeable = this.has(VIRTIO_NET_F_MRG_RXBUF);
    this.mac = n.mac;
    if (n.mtu !== undefined) this.mtu = n.mtu;
    this.link = n.link;
    this.maxPairs = n.maxPairs;
    const pairs = Math.max(1, Math.min(this.options.queuePairs, this.maxPairs));

    for (let k = 1; k <= pairs; k++) {
      this.rx.push(await this.setupQueue(rxQueueIndex(k), this.options.rxBufferSize, 'rx'));
      this.tx.push(await this.setupQueue(txQueueIndex(k), this.options.txBufferSize, 'tx'));
    }
    if (this.has(VIRTIO_NET_F_CTRL_VQ)) {
      this.ctrl = await this.setupQueue(ctrlQueueIndex(this.maxPairs), 64, 'ctrl');
      this.control = new ControlClient(name, this.conn.memory, this.ctrl, (q) => this.kick(q));
    }
    this.configSignal ??= await t.registerConfigSignal();
    this.configSignal.handler = () => void this.onConfigSignal();

    for (const q of this.rx) {
      this.rxPath.refill(q);
      // rx kicks are rare (the device asks only when it ran dry): one is left to the refill path
    }
    for (const q of this.tx) q.vq.disableInterrupts(); // tx completions are reaped on send (free_old_xmit)
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    for (const q of this.rx) if (q.vq.needsKick()) this.kick(q);
    if (pairs > 1) {
      const b = new Uint8Array(2);
      new DataView(b.buffer).setUint16(0, pairs, true);
      if ((await this.command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b)) !== VIRTIO_NET_OK) throw new BusError(`${name}: VQ_PAIRS_SET ${pairs} refused`);
    }
  }

  private has(bit: number): boolean {
    return hasFeature(this.features, bit);
  }

  private async setupQueue(index: number, bufferSize: number, kind: 'rx' | 'tx' | 'ctrl'): Promise<DriverQueue> {
    const setup = { conn: this.conn, allocator: this.allocator, transport: this.transport, features: this.features, signals: this.signals };
    const q = await setupDriverQueue(setup, index, kind === 'ctrl' ? 16 : this.options.queueSize, bufferSize);
    const signal = q.signal;
    if (kind === 'rx') {
      const napi = (q.napi = new NapiPoll(
        this.rxPath.napiQueue(q, this.conn, (k) => this.kick(k)),
        this.options.pollWeight,
        this.pollBatch,
        'deferred',
        this.options.rxPollTurns,
      ));
      // rings set up again (recover()) poll at once if a receiver is already attached
      if (this.frameHandler !== undefined) napi.release();
      signal.handler = () => {
        this.counters.interrupts++;
        napi.interrupt();
      };
    } else if (kind === 'tx') {
      signal.handler = () => {
        this.counters.interrupts++;
        q.vq.disableInterrupts();
        this.reclaimTx(q);
        if (q.free.length > 0) this.txWakeNow();
      };
    } else {
      signal.handler = () => {
        this.counters.interrupts++;
        this.control?.reap();
      };
    }
    return q;
  }

  private kick(q: DriverQueue): void {
    if (q.signal.inject()) this.counters.kicks++;
    else this.counters.kicksSuppressed++;
  }

  // --- transmit -----------------------------------------------------------------------------------

  /**
   * Send one frame. With `more` (Linux's xmit_more) the kick is left to the last frame of a
   * batch; otherwise kick only if the device asked (needsKick). Returns false when the ring is
   * full (then a delayed tx interrupt is armed, as Linux does when it stops the queue).
   */
  send(frame: Uint8Array, options: NicSendOptions = SEND_NOW, pair = 0): boolean {
    const q = this.tx[pair];
    if (!q) throw new BusError(`${this.conn.device.name}: no tx queue pair ${pair}`);
    if (VIRTIO_NET_HDR_SIZE + frame.length > q.bufferSize) {
      this.counters.txTooBig++;
      return false;
    }
    // reaped only when no buffer is free: reading the used index per frame pulled its cache line,
    // which the device writes, across cores on every send
    if (q.free.length === 0) this.reclaimTx(q);
    const i = q.free.take();
    if (i === undefined) {
      this.counters.txBusy++;
      this.txStopped = true;
      if (q.vq.needsKick()) this.kick(q);
      // wake me when 3/4 are done; if they already are, reap now (and wake the sender after this returns)
      if (q.vq.enableInterruptsDelayed()) {
        q.vq.disableInterrupts();
        this.reclaimTx(q);
        if (q.free.length > 0) queueMicrotask(this.txWakeNow);
      }
      return false;
    }
    this.txStopped = false; // buffers were free after all (reaped on this path): the queue runs
    this.txPath.post(q, i, frame, options.offload, this.csum, options.more === true);
    this.counters.sent++;
    this.counters.txBytes += frame.length;
    if (!options.more) {
      // a frame sent from inside an rx poll (a reply) joins the poll's batch: one kick at its end
      if (this.pollBatch.deferKick()) this.kickAfterPoll[pair] = true;
      else if (q.vq.needsKick()) this.kick(q);
    }
    return true;
  }

  /** Kick after a batch sent with `more`, if the device wants it. */
  flush(pair = 0): void {
    const q = this.tx[pair]!;
    if (q.vq.needsKick()) this.kick(q);
  }

  /** Free tx slots of pair `pair`. */
  txFree(pair = 0): number {
    const q = this.tx[pair]!;
    this.reclaimTx(q);
    return q.free.length;
  }

  private reclaimTx(q: DriverQueue): void {
    this.txPath.reclaim(q);
  }

  // --- receive (NAPI) -----------------------------------------------------------------------------

  /** The end of an rx poll: one kick per tx pair that sent replies during it. */
  private kickAfterPolls(): void {
    for (let p = 0; p < this.kickAfterPoll.length; p++) {
      if (!this.kickAfterPoll[p]) continue;
      this.kickAfterPoll[p] = false;
      const t = this.tx[p]!;
      if (t.vq.needsKick()) this.kick(t);
    }
  }

  // --- control queue ------------------------------------------------------------------------------

  /** Send a control command `{class, cmd}` + data; resolves to the device's ack (VIRTIO_NET_OK / ERR). */
  command(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    if (!this.control) return Promise.reject(this.noControl());
    return this.control.command(cls, cmd, data);
  }

  private noControl(): BusError {
    return new BusError(`${this.conn.device.name}: no control queue (CTRL_VQ not negotiated)`);
  }
  /** Receive mode (CTRL_RX). */
  setRxMode(mode: { promisc?: boolean; allmulti?: boolean }): Promise<boolean> {
    if (this.control || (mode.promisc === undefined && mode.allmulti === undefined)) return this.control?.setRxMode(mode) ?? Promise.resolve(true);
    return Promise.reject(this.noControl());
  }
  /** Change the MAC address (CTRL_MAC_ADDR). */
  async setMac(mac: Uint8Array): Promise<boolean> {
    const ok = (await this.command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac)) === VIRTIO_NET_OK;
    if (ok) this.mac = Uint8Array.from(mac);
    return ok;
  }

  // --- config changes -----------------------------------------------------------------------------

  private async onConfigSignal(): Promise<void> {
    this.counters.configChanges++;
    try {
      const status = await this.transport.getStatus();
      if (this.has(VIRTIO_NET_F_STATUS)) {
        const cfg = await this.transport.readConfig(VIRTIO_NET_CONFIG_STATUS, 2);
        this.link = (cfg[0]! & VIRTIO_NET_S_LINK_UP) !== 0;
      }
      this.onConfigChange({ link: this.link, needsReset: (status & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET) !== 0 });
    } catch {
      /* connection gone */
    }
  }

  /** GuestNic: whether the device reports the link up (always, without STATUS). */
  get linkUp(): boolean {
    return this.link;
  }

  /** GuestNic: the counters in the terms every NIC shares. */
  stats(): GuestNicStats {
    const c = this.counters;
    return {
      txFrames: c.sent,
      txBytes: c.txBytes,
      rxFrames: c.received,
      rxBytes: c.rxBytes,
      drops: c.txBusy + c.txTooBig + c.rxErrors,
      kicks: c.kicks,
      suppressed: c.kicksSuppressed,
      interrupts: c.interrupts,
    };
  }

  /** Close the connection (the device releases the queues). Buffers stay allocated in the allocator. */
  async close(): Promise<void> {
    await this.conn.close();
  }

  /** The guest-side signal of tx queue `pair` (tests that kick it raw, as a storm would). */
  txSignal(pair = 0): ShmSignal {
    return this.tx[pair]!.signal;
  }

  /** GuestNic: tx frames in flight on pair 0, after reaping completions. */
  txPending(): number {
    const q = this.tx[0]!;
    this.reclaimTx(q);
    return q.buffers.length - q.free.length;
  }

  /** GuestNic: signal counters of rx/tx queue pair 0, for measurements of notification economy. */
  signalCounters(): NicSignalCounters {
    return { tx: this.tx[0]!.signal.counters, rx: this.rx[0]!.signal.counters };
  }
}
