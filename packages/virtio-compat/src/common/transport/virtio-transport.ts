import {
  BusError,
  RingError,
  VbusError,
  le,
  type DeviceConnectionHandler,
  type DeviceContext,
  type GuestMemory,
  type QueueCounters,
  type ShmRegistration,
  type ShmSignal,
} from '@vbus/core';
import {
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_VERSION_1,
  hasFeature,
} from '../virtqueue/layout.js';
import { SplitQueueDevice } from '../virtqueue/split-queue-device.js';
import { addedStatusBits } from './device-status.js';
import type { VirtioDeviceSpec } from './virtio-device-spec.js';
import { clearQueueSlot, enableQueueSlot, newQueueSlot, setQueueAreas, setQueueSize, setQueueStart, type QueueSlot } from './queue-slot.js';
import {
  VIRTIO_CALL_CONFIG_GENERATION,
  VIRTIO_CALL_GET_DEVICE_FEATURES,
  VIRTIO_CALL_GET_ERROR,
  VIRTIO_CALL_GET_STATUS,
  VIRTIO_CALL_NUM_QUEUES,
  VIRTIO_CALL_QUEUE_ENABLE,
  VIRTIO_CALL_QUEUE_GET_STATE,
  VIRTIO_CALL_QUEUE_SET_STATE,
  VIRTIO_CALL_QUEUE_SELECT,
  VIRTIO_CALL_QUEUE_SET_ADDR,
  VIRTIO_CALL_QUEUE_SET_SIZE,
  VIRTIO_CALL_READ_CONFIG,
  VIRTIO_CALL_RESET,
  VIRTIO_CALL_SET_DRIVER_FEATURES,
  VIRTIO_CALL_SET_STATUS,
  VIRTIO_CALL_WRITE_CONFIG,
  VIRTIO_SHM_CONFIG,
  u32Args,
} from './transport-abi.js';

/** Counters of one queue of one connection: the bus's {@link QueueCounters}. */
export type { QueueCounters };

const S_NEEDS_RESET = VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET;

/**
 * The device half of the virtio transport for one connection: the register interface over
 * `call` (status state machine, 64-bit feature negotiation, config space, queue setup) and the
 * queues' signals over `shm`. A device model extends it with its config space and its queue
 * work. A broken ring rule (a {@link RingError}) never leaves the connection: the transport sets
 * DEVICE_NEEDS_RESET, stops this connection's queues, keeps the error (GET_ERROR) and sends a
 * configuration-change notification; the device and its other connections go on.
 */
export abstract class VirtioDeviceConnection implements DeviceConnectionHandler {
  /** Device status (VIRTIO_CONFIG_S_*). */
  protected status = 0;
  private driverFeatureWords = [0, 0];
  /** Features in force after FEATURES_OK (0 before). */
  protected negotiated = 0n;
  readonly queues: QueueSlot[];
  protected configSignal: ShmSignal | undefined;
  private selected = 0;
  private generation = 0;
  /** The error that set DEVICE_NEEDS_RESET, or null. */
  error: VbusError | null = null;
  /** Configuration-change notifications sent / suppressed. */
  readonly configCounters = { interrupts: 0, suppressed: 0 };
  readonly offered: bigint;

  constructor(
    protected readonly context: DeviceContext,
    protected readonly memory: GuestMemory,
    protected readonly spec: VirtioDeviceSpec,
  ) {
    this.offered = spec.features | (1n << BigInt(VIRTIO_F_VERSION_1));
    this.queues = Array.from({ length: spec.numQueues }, (_, index) => newQueueSlot(index, `${context.name}.${spec.queueName(index)}`, spec.maxQueueSize));
  }

  // --- the device model's part ---------------------------------------------------------------

  /** The whole device-specific configuration space, as it reads now. */
  protected abstract configSpace(): Uint8Array;
  /** A write to the configuration space (most fields are read-only: refuse by throwing). */
  protected writeConfig(offset: number, _bytes: Uint8Array): void {
    throw new BusError(`${this.context.name}: configuration offset ${offset} is read-only`);
  }
  /** Device-specific feature rules (dependencies); return why `features` is refused, or null. */
  protected checkFeatures(_features: bigint): string | null {
    return null;
  }
  /** The driver set DRIVER_OK: the queues it enabled are live. */
  protected abstract start(): void;
  /** Reset, close or DEVICE_NEEDS_RESET: stop using the queues (they may be gone). */
  protected abstract stop(): void;
  /** The driver notified queue `slot` (called only while live, errors handled by the transport). */
  protected abstract onNotify(slot: QueueSlot): void;

  // --- state ---------------------------------------------------------------------------------

  /** True between DRIVER_OK and reset, unless the device needs a reset or the driver failed it. */
  get live(): boolean {
    return (this.status & (VIRTIO_CONFIG_S_DRIVER_OK | S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) === VIRTIO_CONFIG_S_DRIVER_OK;
  }
  get deviceStatus(): number {
    return this.status;
  }
  get features(): bigint {
    return this.negotiated;
  }
  /** Whether `bit` was negotiated. Hot path (per frame): the bits are kept as two u32 numbers, so no BigInt is made per call. */
  protected has(bit: number): boolean {
    if (this.bitsOf !== this.negotiated) {
      this.bitsOf = this.negotiated;
      this.bitsLo = Number(this.negotiated & 0xffff_ffffn);
      this.bitsHi = Number((this.negotiated >> 32n) & 0xffff_ffffn);
    }
    return bit < 32 ? ((this.bitsLo >>> bit) & 1) === 1 : bit < 64 && ((this.bitsHi >>> (bit - 32)) & 1) === 1;
  }
  private bitsOf = 0n;
  private bitsLo = 0;
  private bitsHi = 0;

  // --- the verbs -----------------------------------------------------------------------------

  call(func: number, data: Uint8Array): Uint8Array {
    const arg = (i: number): number => {
      if (data.length < 4 * (i + 1)) throw new BusError(`${this.context.name}: call ${func} needs at least ${4 * (i + 1)} argument bytes, got ${data.length}`);
      return le.getU32(data, 4 * i);
    };
    switch (func) {
      case VIRTIO_CALL_GET_STATUS:
        return u32Args(this.status);
      case VIRTIO_CALL_SET_STATUS:
        this.setStatus(arg(0));
        return u32Args(this.status);
      case VIRTIO_CALL_RESET:
        this.reset();
        return new Uint8Array(0);
      case VIRTIO_CALL_GET_DEVICE_FEATURES: {
        const sel = arg(0);
        if (sel > 1) return u32Args(0);
        return u32Args(Number((this.offered >> BigInt(32 * sel)) & 0xffff_ffffn));
      }
      case VIRTIO_CALL_SET_DRIVER_FEATURES: {
        const sel = arg(0);
        const value = arg(1);
        if ((this.status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0) throw new BusError(`${this.context.name}: features cannot change after FEATURES_OK (virtio 1.2 §3.1.1)`);
        if ((this.status & VIRTIO_CONFIG_S_DRIVER) === 0) throw new BusError(`${this.context.name}: set DRIVER before writing features (§3.1.1)`);
        if (sel > 1) throw new BusError(`${this.context.name}: feature word ${sel} does not exist (64 feature bits)`);
        this.driverFeatureWords[sel] = value;
        return new Uint8Array(0);
      }
      case VIRTIO_CALL_READ_CONFIG: {
        const offset = arg(0);
        const length = arg(1);
        const space = this.configSpace();
        if (offset + length > space.length) throw new BusError(`${this.context.name}: config read [${offset}, +${length}) beyond the ${space.length}-byte config space`);
        return space.slice(offset, offset + length);
      }
      case VIRTIO_CALL_WRITE_CONFIG:
        this.writeConfig(arg(0), data.subarray(4));
        this.generation++;
        return new Uint8Array(0);
      case VIRTIO_CALL_QUEUE_SELECT: {
        const index = arg(0);
        this.selected = index;
        return u32Args(index < this.queues.length ? this.queues[index]!.maxSize : 0);
      }
      case VIRTIO_CALL_QUEUE_SET_SIZE: {
        setQueueSize(this.setupSlot('set the queue size'), arg(0));
        return new Uint8Array(0);
      }
      case VIRTIO_CALL_QUEUE_SET_ADDR: {
        setQueueAreas(this.setupSlot('set ring addresses'), data);
        return new Uint8Array(0);
      }
      case VIRTIO_CALL_QUEUE_ENABLE:
        this.enableQueue(this.setupSlot('enable the queue'));
        return new Uint8Array(0);
      case VIRTIO_CALL_QUEUE_SET_STATE: {
        setQueueStart(this.setupSlot('set the ring state'), arg(0), arg(1));
        return new Uint8Array(0);
      }
      case VIRTIO_CALL_QUEUE_GET_STATE: {
        const index = arg(0);
        const q = this.queues[index]?.queue;
        if (!(q instanceof SplitQueueDevice)) throw new BusError(`${this.context.name}: queue ${index} is not a live split queue`);
        const st = q.state();
        return u32Args(st.nextAvail, st.nextUsed);
      }
      case VIRTIO_CALL_NUM_QUEUES:
        return u32Args(this.queues.length);
      case VIRTIO_CALL_CONFIG_GENERATION:
        return u32Args(this.generation);
      case VIRTIO_CALL_GET_ERROR:
        return new TextEncoder().encode(this.error?.message ?? '');
      default:
        throw new BusError(`${this.context.name}: unknown virtio transport call ${func}`);
    }
  }

  shm(reg: ShmRegistration): void {
    if (!reg.signal) throw new BusError(`${this.context.name}: shm ${reg.id} needs a signal descriptor`);
    const signal = reg.signal;
    if (reg.id === VIRTIO_SHM_CONFIG) {
      this.configSignal = signal;
      // the driver never signals the device on this one
      signal.handler = () => {};
      return;
    }
    const slot = this.queues[reg.id];
    if (!slot) throw new BusError(`${this.context.name}: shm id ${reg.id} is neither a queue (0..${this.queues.length - 1}) nor the config signal ${VIRTIO_SHM_CONFIG}`);
    slot.signal = signal;
    signal.handler = () => {
      slot.counters.kicks++;
      if (!this.live || slot.queue === null) return;
      this.guard(slot, () => this.onNotify(slot));
    };
  }

  close(): void {
    this.teardown();
  }

  counters(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const q of this.queues) out[this.spec.queueName(q.index)] = { ...q.counters };
    out.config = { ...this.configCounters, status: this.status, needsReset: this.error ? 1 : 0 };
    return out;
  }

  // --- helpers for device models ----------------------------------------------------------------

  /**
   * After a batch of `addUsed` on `slot`: send a used-buffer notification if the driver wants one
   * (the ring's suppression, then the shm-signal's pending/dirty de-duplication).
   */
  protected interrupt(slot: QueueSlot): void {
    if (slot.queue === null) return;
    // needsNotification also publishes a batch of used buffers: called even with no signal
    if (slot.queue.needsNotification() && slot.signal !== undefined && slot.signal.inject()) slot.counters.interrupts++;
    else slot.counters.suppressed++;
  }

  /** The device changed its configuration: bump the generation and notify the driver. */
  protected configChanged(): void {
    this.generation++;
    if (this.configSignal === undefined) return;
    if (this.configSignal.inject()) this.configCounters.interrupts++;
    else this.configCounters.suppressed++;
  }

  /** Run queue work; a ring error (or any fault) sets DEVICE_NEEDS_RESET instead of escaping. */
  protected guard(slot: QueueSlot | null, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.needsReset(slot, e);
    }
  }

  /** Set DEVICE_NEEDS_RESET with `cause`: stop every queue of this connection and tell the driver. */
  protected needsReset(slot: QueueSlot | null, cause: unknown): void {
    if (this.error !== null) return;
    this.error = VbusError.is(cause) ? cause : new RingError(slot?.name ?? this.context.name, -1, 0, `device fault: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.status |= S_NEEDS_RESET;
    this.safeStop();
    this.configChanged();
  }

  // --- internals -------------------------------------------------------------------------------

  private setStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return;
    }
    const wanted = value & ~S_NEEDS_RESET; // the device's bit; the driver cannot set or clear it
    const added = addedStatusBits(this.context.name, this.status, value);
    if (added & VIRTIO_CONFIG_S_FAILED) {
      // the driver gave up: keep what it wrote (minus DRIVER_OK's effect) and stop the queues
      this.status = (this.status & S_NEEDS_RESET) | wanted;
      this.safeStop();
      return;
    }
    if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
      const driver = BigInt(this.driverFeatureWords[0]! >>> 0) | (BigInt(this.driverFeatureWords[1]! >>> 0) << 32n);
      if (!this.acceptFeatures(driver)) {
        // refused: FEATURES_OK stays clear, the driver reads it back and gives up (§2.2.2)
        this.status = (this.status & S_NEEDS_RESET) | (wanted & ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK));
        return;
      }
      this.negotiated = driver;
    }
    this.status = (this.status & S_NEEDS_RESET) | wanted;
    if (added & VIRTIO_CONFIG_S_DRIVER_OK && this.error === null) this.guard(null, () => this.start());
  }

  /** Subset of the offer, VERSION_1, and the device's own rules. */
  private acceptFeatures(driver: bigint): boolean {
    if ((driver & ~this.offered) !== 0n) return false;
    if (!hasFeature(driver, VIRTIO_F_VERSION_1)) return false;
    return this.checkFeatures(driver) === null;
  }

  private setupSlot(what: string): QueueSlot {
    const slot = this.queues[this.selected];
    if (!slot) throw new BusError(`${this.context.name}: cannot ${what}: queue ${this.selected} does not exist`);
    if ((this.status & VIRTIO_CONFIG_S_FEATURES_OK) === 0 || (this.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0)
      throw new BusError(`${slot.name}: cannot ${what}: queues are set up after FEATURES_OK and before DRIVER_OK (§3.1.1)`);
    if (slot.queue !== null) throw new BusError(`${slot.name}: cannot ${what}: the queue is already enabled`);
    return slot;
  }

  private enableQueue(slot: QueueSlot): void {
    enableQueueSlot(slot, this.memory, {
      eventIdx: this.has(VIRTIO_F_EVENT_IDX),
      indirect: this.has(VIRTIO_F_INDIRECT_DESC),
      packed: this.has(VIRTIO_F_RING_PACKED),
      inOrder: this.has(VIRTIO_F_IN_ORDER),
    });
  }

  private safeStop(): void {
    try {
      this.stop();
    } catch {
      /* stopping never fails the connection further */
    }
  }

  private teardown(): void {
    this.safeStop();
    for (const q of this.queues) clearQueueSlot(q);
  }

  /** Writing status 0: back to the initial state (queues gone, features cleared, error cleared). */
  private reset(): void {
    this.teardown();
    this.status = 0;
    this.negotiated = 0n;
    this.driverFeatureWords = [0, 0];
    this.error = null;
    this.selected = 0;
  }
}
