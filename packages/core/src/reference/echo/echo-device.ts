import { ContainerModule } from 'inversify';
import { ConfigError } from '../../common/errors.js';
import type { Device, DeviceClass, DeviceConnectionHandler, DeviceContext, ShmRegistration } from '../../common/bus/device.js';
import { DeviceClass as DeviceClassToken } from '../../common/bus/device.js';
import { IoqDeviceQueue } from '../../common/ioq/queue-ends.js';
import { TurnPoller, checkPollTurns } from '../../common/signal/turn-poller.js';
import { BusError } from '../../common/errors.js';

/** ABI of the echo device: what the driver sends on TX comes back on RX. */
export const ECHO_TYPE = 'vbus-echo';
/** Queue 0: frames from the device to the guest. */
export const ECHO_QUEUE_RX = 0;
/** Queue 1: frames from the guest to the device. */
export const ECHO_QUEUE_TX = 1;
/** call: returns its argument unchanged. */
export const ECHO_CALL_PING = 0;

/** Configuration of an echo device. */
export interface EchoConfig {
  /** Signal tx-complete every N frames (and when the queue drains). */
  txCompleteEvery: number;
  /**
   * Turns of the bus's loop the tx queue is polled, kick masked, after a drain empties it,
   * before the kick is unmasked (a {@link TurnPoller}, as venet and virtio-net do; 0..1024).
   * Default 0: the classic device, which unmasks at once, so a test counting kicks sees one
   * per wakeup.
   */
  pollTurns: number;
}

/** Counters of one echo connection. */
export interface EchoCounters {
  frames: number;
  bytes: number;
  drops: number;
  kicks: number;
  txCompleteSignals: number;
  rxSignals: number;
}

/**
 * A complete small device class: two IOQs (RX 0, TX 1), one call. It shows the pattern every
 * device here follows: on a kick, mask the signal and drain the ring; complete every N frames or
 * on drain; unmask (the shm-signal re-checks, so nothing is stranded).
 */
export class EchoDeviceClass implements DeviceClass<EchoConfig, Partial<EchoConfig>> {
  readonly type = ECHO_TYPE;
  readonly version = 1;
  readonly description = 'echoes every TX frame back on RX (an example device)';
  readonly configKeys = ['txCompleteEvery', 'pollTurns'] as const;
  validate(config: unknown): EchoConfig {
    const c = (config ?? {}) as Partial<EchoConfig>;
    const n = c.txCompleteEvery ?? 10;
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw new ConfigError('txCompleteEvery', n, 'must be an integer in [1, 4096]');
    return { txCompleteEvery: n, pollTurns: checkPollTurns(c.pollTurns, 0) };
  }
  /** Make an echo device from a validated config. */
  create(config: EchoConfig, context: DeviceContext): Device {
    return new EchoDevice(config, context);
  }
}

class EchoDevice implements Device {
  readonly type = ECHO_TYPE;
  private readonly conns = new Set<EchoConnection>();
  constructor(
    private readonly config: EchoConfig,
    private readonly context: DeviceContext,
  ) {}
  open(): DeviceConnectionHandler {
    const c = new EchoConnection(this.config, this.context, () => this.conns.delete(c));
    this.conns.add(c);
    return c;
  }
  attributes() {
    return { txCompleteEvery: this.config.txCompleteEvery, pollTurns: this.config.pollTurns };
  }
  counters() {
    const total: Record<string, number> = { frames: 0, bytes: 0, drops: 0 };
    for (const c of this.conns) for (const k of Object.keys(total)) total[k]! += c.stats[k as keyof EchoCounters];
    return total;
  }
}

class EchoConnection implements DeviceConnectionHandler {
  readonly stats: EchoCounters = { frames: 0, bytes: 0, drops: 0, kicks: 0, txCompleteSignals: 0, rxSignals: 0 };
  counters(): Record<string, number> {
    return { ...this.stats };
  }
  private rx: IoqDeviceQueue | undefined;
  private tx: IoqDeviceQueue | undefined;
  private txReg: ShmRegistration | undefined;
  private poller: TurnPoller | undefined;

  constructor(
    private readonly config: EchoConfig,
    private readonly context: DeviceContext,
    private readonly onClose: () => void,
  ) {}

  call(func: number, data: Uint8Array): Uint8Array {
    if (func === ECHO_CALL_PING) return data.slice();
    throw new BusError(`${this.context.name}: unknown call ${func}`);
  }

  shm(reg: ShmRegistration): void {
    if (!reg.signal) throw new BusError(`${this.context.name}: queue ${reg.id} needs a signal`);
    const q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, reg.signal, `${this.context.name}.${reg.id === ECHO_QUEUE_RX ? 'rx' : 'tx'}`);
    if (reg.id === ECHO_QUEUE_RX) this.rx = q;
    else if (reg.id === ECHO_QUEUE_TX) {
      this.tx = q;
      this.txReg = reg;
      const signal = reg.signal;
      signal.handler = () => this.onKick();
      // after a drain: look again on the next pollTurns turns, kick masked, then unmask
      this.poller = new TurnPoller(this.context, this.config.pollTurns, {
        hasWork: () => !this.closed && q.next(),
        drain: () => !this.closed && this.pass(),
        unmask: () => {
          if (!this.closed) signal.enable();
        },
      });
    } else throw new BusError(`${this.context.name}: unknown queue id ${reg.id}`);
  }

  /** A deferred pass is pending (the kick stays masked until it ran). */
  private continuing = false;
  private closed = false;

  /** TX kick: drain with the signal masked. Ring errors propagate and fail the device. */
  private onKick(): void {
    this.stats.kicks++;
    if (this.continuing) return;
    this.txReg!.signal!.disable();
    if (this.pass()) this.poller!.idle();
  }

  /**
   * Echo at most one ring's worth of frames. A guest that refills as fast as we drain would
   * otherwise keep this loop going for ever: if more is waiting, finish in a deferred pass
   * (the scheduler lets the event loop turn between passes), with the kick still masked.
   * Returns true when the queue was drained (the caller polls or unmasks), false when a
   * deferred pass continues (it does that itself when it ends).
   */
  private pass(): boolean {
    const tx = this.tx!;
    const rx = this.rx;
    const mem = this.txReg!.memory;
    let sinceSignal = 0;
    let rxDone = 0;
    let done = 0;
    while (done < tx.ioq.count && tx.next()) {
      done++;
      const len = tx.len;
      const src = tx.ptr;
      // the tx buffer is checked whether or not it is echoed: by the copy (which checks both
      // ranges) when it is, else here (view() throws the MemoryAccessError)
      if (rx && rx.next()) {
        if (rx.len < len) {
          if (!mem.contains(src, len)) mem.view(src, len);
          this.stats.drops++;
          rx.complete(0, true);
        } else {
          // guest to guest, no view allocated
          mem.copyWithin(rx.ptr, src, len);
          rx.complete(len, true);
          this.stats.frames++;
          this.stats.bytes += len;
        }
        rxDone++;
      } else {
        if (!mem.contains(src, len)) mem.view(src, len);
        this.stats.drops++;
      }
      // completions are kept back and published in batches: each is followed, in this pass,
      // by a notify() of its ring (below, or at the end), which publishes before it signals,
      // or by the end of the pass settling a signal notifyInPass() deferred
      tx.complete(0, true);
      if (++sinceSignal >= this.config.txCompleteEvery) {
        if (tx.notifyInPass()) this.stats.txCompleteSignals++;
        sinceSignal = 0;
      }
      if (rxDone >= this.config.txCompleteEvery && rx) {
        if (rx.notifyInPass()) this.stats.rxSignals++;
        rxDone = 0;
      }
    }
    if (rx && (rxDone > 0 ? rx.notify() : rx.settleDeferred())) this.stats.rxSignals++;
    if (sinceSignal > 0 ? tx.notify() : tx.settleDeferred()) this.stats.txCompleteSignals++;
    if (done === tx.ioq.count && tx.next()) {
      this.continuing = true;
      this.context.defer(() => {
        this.continuing = false;
        if (!this.closed && this.pass()) this.poller!.idle();
      });
      return false;
    }
    return true;
  }

  close(): void {
    this.closed = true;
    this.poller?.cancel();
    this.onClose();
  }
}

/** The plugin's container module: binds the echo device class. */
export const echoModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClassToken).toConstantValue(new EchoDeviceClass() as DeviceClass<unknown>);
});

declare module '../../common/bus/device.js' {
  // `bus.createDevice('vbus-echo', name, config)` takes `{ txCompleteEvery?: number, pollTurns?: number `. (a plain comment: typedoc keeps one doc per interface)
  interface DeviceConfigs {
    'vbus-echo': Partial<EchoConfig>;
  }
}
