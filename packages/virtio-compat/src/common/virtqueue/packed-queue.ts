import { ConfigError, le, type GuestAllocator } from '@vbus/core';
import { checkAdd, checkBuffer, checkIndirectDescriptor } from './chain-checks.js';
import { DescriptorChain } from './descriptor-chain.js';
import { InFlightBuffers } from './in-flight.js';
import { checkSegments, type Segment } from './descriptor.js';
import {
  VIRTQ_DESC_ALIGN,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_LEN,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_PACKED_DESC_F_AVAIL,
  VIRTQ_PACKED_DESC_F_USED,
  VIRTQ_PACKED_DESC_FLAGS,
  VIRTQ_PACKED_DESC_ID,
  VRING_PACKED_DESC_F_AVAIL_BIT,
  VRING_PACKED_DESC_F_USED_BIT,
  VRING_PACKED_EVENT_ALIGN,
  VRING_PACKED_EVENT_FLAGS,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_OFF_WRAP,
  VRING_PACKED_EVENT_SIZE,
  isValidPackedSize,
  needEventMod,
  packedRingSizes,
} from './layout.js';
import { allocZeroedArea, RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import type { AddOptions, UsedBuffer, VirtqueueDevice, VirtqueueDriver, VirtqueueOptions } from './virtqueue.js';

/** Guest addresses of the three packed-ring areas (§2.8.10). */
export interface PackedQueueAddresses {
  /** Descriptor ring, 16·N bytes, 16-aligned. */
  readonly descRing: number;
  /** Driver event suppression area (written by the driver), 4 bytes, 4-aligned. */
  readonly driverEvent: number;
  /** Device event suppression area (written by the device), 4 bytes, 4-aligned. */
  readonly deviceEvent: number;
}

/** The device's position in a packed ring: plain data to save and restore. */
export interface PackedQueueState {
  readonly nextAvail: number;
  /** Driver ring wrap counter (starts at 1). */
  readonly availWrap: 0 | 1;
  readonly nextUsed: number;
  /** Device ring wrap counter (starts at 1). */
  readonly usedWrap: 0 | 1;
}

export interface PackedQueueDeviceConfig extends VirtqueueOptions, PackedQueueAddresses {}

function checkSize(name: string, size: number): void {
  if (!isValidPackedSize(size)) throw new ConfigError(`${name}.size`, size, `packed queue size must be in 1..${VIRTQ_MAX_SIZE}`);
}

function mapPacked(config: VirtqueueOptions & PackedQueueAddresses): { desc: RingArea; driver: RingArea; device: RingArea } {
  const s = packedRingSizes(config.size);
  return {
    desc: RingArea.map(config.memory, config.name, 'descriptor ring', config.descRing, s.desc, VIRTQ_DESC_ALIGN),
    driver: RingArea.map(config.memory, config.name, 'driver event suppression area', config.driverEvent, s.driverEvent, VRING_PACKED_EVENT_ALIGN),
    device: RingArea.map(config.memory, config.name, 'device event suppression area', config.deviceEvent, s.deviceEvent, VRING_PACKED_EVENT_ALIGN),
  };
}

/** A descriptor is available when AVAIL equals the wrap counter and USED does not (§2.8.1). */
function isAvail(flags: number, wrap: number): boolean {
  return ((flags >>> VRING_PACKED_DESC_F_AVAIL_BIT) & 1) === wrap && ((flags >>> VRING_PACKED_DESC_F_USED_BIT) & 1) !== wrap;
}
/** A descriptor is used when AVAIL and USED both equal the wrap counter (§2.8.1). */
function isUsed(flags: number, wrap: number): boolean {
  return ((flags >>> VRING_PACKED_DESC_F_AVAIL_BIT) & 1) === wrap && ((flags >>> VRING_PACKED_DESC_F_USED_BIT) & 1) === wrap;
}

const FLAGS = VIRTQ_PACKED_DESC_FLAGS;

/**
 * Device half of a packed virtqueue (§2.8): wrap counters instead of indices, one ring where
 * used descriptors overwrite available ones, buffer ids chosen by the driver (kept below the
 * queue size and unique while in flight), and event suppression areas with ENABLE / DISABLE /
 * DESC (off_wrap, with EVENT_IDX).
 */
export class PackedQueueDevice extends RingHalf implements VirtqueueDevice {
  private readonly memory: VirtqueueOptions['memory'];
  private readonly desc: RingArea;
  private readonly driverArea: RingArea;
  private readonly deviceArea: RingArea;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly chain = new DescriptorChain();
  private readonly idInFlight: Uint8Array;
  private readonly idSlots: Uint16Array;
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  private signalledUsed = 0;
  private notifyDisabled = false;

  constructor(config: PackedQueueDeviceConfig) {
    super(config.name, config.size);
    checkSize(config.name, config.size);
    const { desc, driver, device } = mapPacked(config);
    this.memory = config.memory;
    this.desc = desc;
    this.driverArea = driver;
    this.deviceArea = device;
    this.eventIdx = config.eventIdx ?? false;
    this.indirect = config.indirect ?? false;
    this.idInFlight = new Uint8Array(config.size);
    this.idSlots = new Uint16Array(config.size);
    this.signalledUsed = this.linear(this.nextUsed, this.usedWrap);
    this.writeDeviceEvent();
  }

  /** A plain copy of the queue's progress: next indices and wrap counters. */
  state(): PackedQueueState {
    return { nextAvail: this.nextAvail, availWrap: this.availWrap as 0 | 1, nextUsed: this.nextUsed, usedWrap: this.usedWrap as 0 | 1 };
  }

  /** Position p with wrap counter w as an index modulo 2N (the wrap counter starts at 1). */
  private linear(pos: number, wrap: number): number {
    return wrap ? pos : pos + this.size;
  }


  private writeDeviceEvent(): void {
    const a = this.deviceArea;
    if (this.notifyDisabled) a.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DISABLE);
    else if (this.eventIdx) {
      a.store16(VRING_PACKED_EVENT_OFF_WRAP, this.nextAvail | (this.availWrap << VRING_PACKED_EVENT_F_WRAP_CTR));
      a.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DESC);
    } else a.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_ENABLE);
  }

  hasAvailable(): boolean {
    return this._error === null && isAvail(this.desc.load16(this.nextAvail * VIRTQ_DESC_SIZE + FLAGS), this.availWrap);
  }

  popChain(into?: DescriptorChain): DescriptorChain | null {
    if (this._error !== null) throw this._error;
    const n = this.size;
    const bytes = this.desc.bytes;
    const headPos = this.nextAvail;
    let pos = headPos;
    let wrap = this.availWrap;
    const headFlags = this.desc.load16(pos * VIRTQ_DESC_SIZE + FLAGS); // acquire
    if (!isAvail(headFlags, wrap)) return null;
    const mem = this.memory;
    const chain = into ?? this.chain;
    chain.reset(mem);
    let slots = 0;
    let total = 0;
    let seenWritable = false;
    let id = 0;
    for (;;) {
      const off = pos * VIRTQ_DESC_SIZE;
      const flags = slots === 0 ? headFlags : this.desc.load16(off + FLAGS);
      if (slots > 0 && !isAvail(flags, wrap))
        this.fail(pos, flags, `descriptor ${pos} continues a chain but is not available (§2.8.6: the whole chain is made available before its head)`);
      // the copy: each field read once
      const addr = le.getU64(bytes, off);
      const len = le.getU32(bytes, off + VIRTQ_DESC_LEN);
      id = le.getU16(bytes, off + VIRTQ_PACKED_DESC_ID);
      slots++;
      if (++pos === n) {
        pos = 0;
        wrap ^= 1;
      }
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        checkIndirectDescriptor(this.failAt, mem, (pos + n - 1) % n, flags, addr, len, this.indirect, '§2.8.7');
        const table = mem.view(addr, len);
        chain.indirect = true;
        for (let k = 0, count = len / VIRTQ_DESC_SIZE; k < count; k++) {
          const o = k * VIRTQ_DESC_SIZE;
          const a = le.getU64(table, o);
          const l = le.getU32(table, o + VIRTQ_DESC_LEN);
          const f = le.getU16(table, o + FLAGS);
          if ((f & VIRTQ_DESC_F_INDIRECT) !== 0) this.fail(k, f, `indirect descriptor ${k} sets INDIRECT: nested indirect tables are forbidden (§2.8.7)`);
          total = checkBuffer(this.failAt, mem, k, 'indirect descriptor', a, l, f, seenWritable, total, '§2.8.4');
          seenWritable ||= (f & VIRTQ_DESC_F_WRITE) !== 0;
          chain.push(a, l, f & ~VIRTQ_DESC_F_NEXT); // NEXT is meaningless in a packed indirect table
        }
        break;
      }
      total = checkBuffer(this.failAt, mem, (pos + n - 1) % n, 'descriptor', addr, len, flags, seenWritable, total, '§2.8.4');
      seenWritable ||= (flags & VIRTQ_DESC_F_WRITE) !== 0;
      chain.push(addr, len, flags);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (slots === n) this.fail(headPos, slots, `chain starting at descriptor ${headPos} is longer than the queue size ${n} (§2.8.6)`);
    }
    // the buffer id is the one in the last descriptor (§2.8.6)
    if (id >= n) this.fail(headPos, id, `buffer id ${id} of the chain at descriptor ${headPos} is not below the queue size ${n}`);
    if (this.idInFlight[id] !== 0) this.fail(headPos, id, `buffer id ${id} of the chain at descriptor ${headPos} is already in flight`);
    this.idInFlight[id] = 1;
    this.idSlots[id] = slots;
    chain.id = id;
    chain.ringSlots = slots;
    this.nextAvail = pos;
    this.availWrap = wrap;
    if (this.eventIdx && !this.notifyDisabled)
      this.deviceArea.store16(VRING_PACKED_EVENT_OFF_WRAP, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    return chain;
  }

  addUsed(id: number, len: number): void {
    if (this._error !== null) throw this._error;
    if (!Number.isInteger(id) || id < 0 || id >= this.size || this.idInFlight[id] === 0)
      throw new ConfigError(`${this.name}.addUsed.id`, id, 'not a buffer id in flight on this queue');
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw new ConfigError(`${this.name}.addUsed.len`, len, 'must be a u32');
    const off = this.nextUsed * VIRTQ_DESC_SIZE;
    le.setU32(this.desc.bytes, off + VIRTQ_DESC_LEN, len);
    le.setU16(this.desc.bytes, off + VIRTQ_PACKED_DESC_ID, id);
    // release: the flags are stored last, AVAIL = USED = the device's wrap counter
    this.desc.store16(off + FLAGS, this.usedWrap ? VIRTQ_PACKED_DESC_F_AVAIL | VIRTQ_PACKED_DESC_F_USED : 0);
    this.idInFlight[id] = 0;
    this.nextUsed += this.idSlots[id]!;
    if (this.nextUsed >= this.size) {
      this.nextUsed -= this.size;
      this.usedWrap ^= 1;
    }
  }

  needsNotification(): boolean {
    if (this._error !== null) throw this._error;
    const newIdx = this.linear(this.nextUsed, this.usedWrap);
    const oldIdx = this.signalledUsed;
    this.signalledUsed = newIdx;
    if (newIdx === oldIdx) return false;
    const flags = this.driverArea.load16(VRING_PACKED_EVENT_FLAGS);
    if (flags === VRING_PACKED_EVENT_FLAG_DISABLE) return false;
    if (flags !== VRING_PACKED_EVENT_FLAG_DESC || !this.eventIdx) return true;
    const ow = this.driverArea.load16(VRING_PACKED_EVENT_OFF_WRAP);
    const event = this.linear(ow & 0x7fff, ow >>> VRING_PACKED_EVENT_F_WRAP_CTR);
    return needEventMod(event, newIdx, oldIdx, 2 * this.size);
  }

  enableNotification(): boolean {
    if (this._error !== null) throw this._error;
    this.notifyDisabled = false;
    this.writeDeviceEvent();
    return isAvail(this.desc.load16(this.nextAvail * VIRTQ_DESC_SIZE + FLAGS), this.availWrap);
  }

  disableNotification(): void {
    if (this._error !== null) throw this._error;
    this.notifyDisabled = true;
    this.writeDeviceEvent();
  }
}

export interface PackedQueueDriverConfig extends VirtqueueOptions, PackedQueueAddresses {
  /** Where indirect tables are allocated (required when `indirect`). */
  readonly allocator?: GuestAllocator;
}

/** Driver half of a packed virtqueue; bookkeeping in its own memory, used ids checked. */
export class PackedQueueDriver<T = unknown> extends RingHalf implements VirtqueueDriver<T> {
  private readonly memory: VirtqueueOptions['memory'];
  private readonly allocator: GuestAllocator | undefined;
  private readonly desc: RingArea;
  private readonly driverArea: RingArea;
  private readonly deviceArea: RingArea;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly freeIds: Uint16Array;
  private freeIdCount: number;
  private readonly idSlots: Uint16Array;
  private readonly buffers: InFlightBuffers<T>;
  private _numFree: number;
  private nextAvail = 0;
  private availWrap = 1;
  private numAdded = 0;
  private lastUsed = 0;
  private usedWrap = 1;
  private interruptsDisabled = false;

  constructor(config: PackedQueueDriverConfig) {
    super(config.name, config.size);
    checkSize(config.name, config.size);
    if (config.indirect && !config.allocator) throw new ConfigError(`${config.name}.allocator`, undefined, 'indirect descriptors need an allocator');
    const { desc, driver, device } = mapPacked(config);
    this.memory = config.memory;
    this.allocator = config.allocator;
    this.desc = desc;
    this.driverArea = driver;
    this.deviceArea = device;
    this.eventIdx = config.eventIdx ?? false;
    this.indirect = config.indirect ?? false;
    const n = config.size;
    this.freeIds = new Uint16Array(n);
    for (let i = 0; i < n; i++) this.freeIds[i] = n - 1 - i; // pop order 0, 1, 2, ...
    this.freeIdCount = n;
    this.idSlots = new Uint16Array(n);
    this.buffers = new InFlightBuffers<T>(n, config.allocator);
    this._numFree = n;
    driver.store16(VRING_PACKED_EVENT_OFF_WRAP, 1 << VRING_PACKED_EVENT_F_WRAP_CTR);
    driver.store16(VRING_PACKED_EVENT_FLAGS, this.eventIdx ? VRING_PACKED_EVENT_FLAG_DESC : VRING_PACKED_EVENT_FLAG_ENABLE);
  }

  /** Allocate and zero the three areas with `allocator`, then make the driver. */
  static allocate<T = unknown>(config: VirtqueueOptions & { allocator: GuestAllocator }): PackedQueueDriver<T> {
    checkSize(config.name, config.size);
    const s = packedRingSizes(config.size);
    const { memory, allocator } = config;
    const descRing = allocZeroedArea(memory, allocator, s.desc, VIRTQ_DESC_ALIGN);
    const driverEvent = allocZeroedArea(memory, allocator, VRING_PACKED_EVENT_SIZE, VRING_PACKED_EVENT_ALIGN);
    const deviceEvent = allocZeroedArea(memory, allocator, VRING_PACKED_EVENT_SIZE, VRING_PACKED_EVENT_ALIGN);
    return new PackedQueueDriver<T>({ ...config, descRing, driverEvent, deviceEvent });
  }

  get addresses(): PackedQueueAddresses {
    return { descRing: this.desc.address, driverEvent: this.driverArea.address, deviceEvent: this.deviceArea.address };
  }
  get numFree(): number {
    return this._numFree;
  }
  get inFlight(): number {
    return this.buffers.count;
  }

  private linear(pos: number, wrap: number): number {
    return wrap ? pos : pos + this.size;
  }

  add(readable: readonly Segment[], writable: readonly Segment[], token: T, options?: AddOptions): boolean {
    if (this._error !== null) throw this._error;
    const total = readable.length + writable.length;
    const useIndirect = options?.indirect === true;
    checkAdd(this.name, this.indirect, total, useIndirect);
    const needed = useIndirect ? 1 : total;
    if (needed > this._numFree || this.freeIdCount === 0) return false;
    checkSegments(this.name, readable, writable);
    const id = this.freeIds[--this.freeIdCount]!;
    const bytes = this.desc.bytes;
    const headOff = this.nextAvail * VIRTQ_DESC_SIZE;
    let headFlags: number;
    let indirectTable = -1;
    if (useIndirect) {
      const tableLen = total * VIRTQ_DESC_SIZE;
      const table = this.allocator!.alloc(tableLen, VIRTQ_DESC_ALIGN);
      const t = this.memory.view(table, tableLen);
      for (let k = 0; k < total; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        const o = k * VIRTQ_DESC_SIZE;
        le.setU64(t, o, seg.addr);
        le.setU32(t, o + VIRTQ_DESC_LEN, seg.len);
        le.setU16(t, o + VIRTQ_PACKED_DESC_ID, 0);
        le.setU16(t, o + FLAGS, w ? VIRTQ_DESC_F_WRITE : 0);
      }
      le.setU64(bytes, headOff, table);
      le.setU32(bytes, headOff + VIRTQ_DESC_LEN, tableLen);
      le.setU16(bytes, headOff + VIRTQ_PACKED_DESC_ID, id);
      headFlags = VIRTQ_DESC_F_INDIRECT | this.availBits();
      this.advance();
      indirectTable = table;
    } else {
      headFlags = 0;
      for (let k = 0; k < total; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        const off = this.nextAvail * VIRTQ_DESC_SIZE;
        le.setU64(bytes, off, seg.addr);
        le.setU32(bytes, off + VIRTQ_DESC_LEN, seg.len);
        le.setU16(bytes, off + VIRTQ_PACKED_DESC_ID, id);
        const flags = (w ? VIRTQ_DESC_F_WRITE : 0) | (k < total - 1 ? VIRTQ_DESC_F_NEXT : 0) | this.availBits();
        if (k === 0) headFlags = flags;
        else this.desc.store16(off + FLAGS, flags);
        this.advance();
      }
    }
    this.desc.store16(headOff + FLAGS, headFlags); // release: the head goes last (§2.8.6)
    this._numFree -= needed;
    this.idSlots[id] = needed;
    this.buffers.add(id, token, indirectTable);
    this.numAdded += needed;
    return true;
  }

  /** AVAIL = wrap counter, USED = its inverse (§2.8.1). */
  private availBits(): number {
    return this.availWrap ? VIRTQ_PACKED_DESC_F_AVAIL : VIRTQ_PACKED_DESC_F_USED;
  }
  private advance(): void {
    if (++this.nextAvail === this.size) {
      this.nextAvail = 0;
      this.availWrap ^= 1;
    }
  }

  needsKick(): boolean {
    if (this._error !== null) throw this._error;
    const added = this.numAdded;
    this.numAdded = 0;
    if (added === 0) return false;
    if (added >= this.size) return true;
    const flags = this.deviceArea.load16(VRING_PACKED_EVENT_FLAGS);
    if (flags === VRING_PACKED_EVENT_FLAG_DISABLE) return false;
    if (flags !== VRING_PACKED_EVENT_FLAG_DESC || !this.eventIdx) return true;
    const ow = this.deviceArea.load16(VRING_PACKED_EVENT_OFF_WRAP);
    const event = this.linear(ow & 0x7fff, ow >>> VRING_PACKED_EVENT_F_WRAP_CTR);
    const newIdx = this.linear(this.nextAvail, this.availWrap);
    return needEventMod(event, newIdx, newIdx - added, 2 * this.size);
  }

  hasUsed(): boolean {
    return this._error === null && isUsed(this.desc.load16(this.lastUsed * VIRTQ_DESC_SIZE + FLAGS), this.usedWrap);
  }

  getUsed(): UsedBuffer<T> | null {
    if (this._error !== null) throw this._error;
    const off = this.lastUsed * VIRTQ_DESC_SIZE;
    if (!isUsed(this.desc.load16(off + FLAGS), this.usedWrap)) return null; // acquire
    const bytes = this.desc.bytes;
    const id = le.getU16(bytes, off + VIRTQ_PACKED_DESC_ID);
    const len = le.getU32(bytes, off + VIRTQ_DESC_LEN);
    if (!this.buffers.has(id)) this.fail(this.lastUsed, id, `used descriptor ${this.lastUsed} has buffer id ${id}, which is not in flight`);
    const r = this.buffers.take(id, len);
    const slots = this.idSlots[id]!;
    this._numFree += slots;
    this.freeIds[this.freeIdCount++] = id;
    this.lastUsed += slots;
    if (this.lastUsed >= this.size) {
      this.lastUsed -= this.size;
      this.usedWrap ^= 1;
    }
    if (this.eventIdx && !this.interruptsDisabled)
      this.driverArea.store16(VRING_PACKED_EVENT_OFF_WRAP, this.lastUsed | (this.usedWrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    return r;
  }

  enableInterrupts(): boolean {
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = false;
    if (this.eventIdx) {
      this.driverArea.store16(VRING_PACKED_EVENT_OFF_WRAP, this.lastUsed | (this.usedWrap << VRING_PACKED_EVENT_F_WRAP_CTR));
      this.driverArea.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DESC);
    } else this.driverArea.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_ENABLE);
    return isUsed(this.desc.load16(this.lastUsed * VIRTQ_DESC_SIZE + FLAGS), this.usedWrap);
  }

  enableInterruptsDelayed(): boolean {
    if (!this.eventIdx) return this.enableInterrupts();
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = false;
    const bufs = ((this.size - this._numFree) * 3) >>> 2;
    let pos = this.lastUsed + bufs;
    let wrap = this.usedWrap;
    if (pos >= this.size) {
      pos -= this.size;
      wrap ^= 1;
    }
    this.driverArea.store16(VRING_PACKED_EVENT_OFF_WRAP, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    this.driverArea.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DESC);
    // as Linux does: if the device already wrote the descriptor at the event position, poll now
    return isUsed(this.desc.load16(pos * VIRTQ_DESC_SIZE + FLAGS), wrap);
  }

  disableInterrupts(): void {
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = true;
    this.driverArea.store16(VRING_PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DISABLE);
  }

}
