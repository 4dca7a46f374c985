// The driver half of a packed virtqueue (virtio 1.2 §2.8).
import { ConfigError, le, type GuestAllocator } from '@vbus/core';
import { checkAdd } from './chain-checks.js';
import { InFlightBuffers } from './in-flight.js';
import { checkSegments, type Segment } from './descriptor.js';
import {
  VIRTQ_DESC_ALIGN,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_LEN,
  VIRTQ_DESC_SIZE,
  VIRTQ_PACKED_DESC_F_AVAIL,
  VIRTQ_PACKED_DESC_F_USED,
  VIRTQ_PACKED_DESC_ID,
  VRING_PACKED_EVENT_ALIGN,
  VRING_PACKED_EVENT_FLAGS,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_OFF_WRAP,
  VRING_PACKED_EVENT_SIZE,
  needEventMod,
  packedRingSizes,
} from './layout.js';
import { allocZeroedArea, RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import { AVAIL_PUBLISH_BATCH, type AddOptions, type UsedBuffer, type UsedTokenSink, type VirtqueueDriver, type VirtqueueOptions } from './virtqueue.js';
import { checkPackedSize, FLAGS, isUsed, mapPackedRing, type PackedQueueAddresses } from './packed-ring.js';

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
  /**
   * The head of the first chain of an unpublished batch (add with `more`): its flags are stored
   * last, releasing the chains after it, whose heads were written plainly (the device reads the
   * ring in order, so it cannot pass this one). -1: no batch.
   */
  private batchHeadOff = -1;
  private batchHeadFlags = 0;
  private batchCount = 0;
  private lastUsed = 0;
  private usedWrap = 1;
  private interruptsDisabled = false;

  constructor(config: PackedQueueDriverConfig) {
    super(config.name, config.size);
    checkPackedSize(config.name, config.size);
    if (config.indirect && !config.allocator) throw new ConfigError(`${config.name}.allocator`, undefined, 'indirect descriptors need an allocator');
    if (config.inOrder) throw new ConfigError(`${config.name}.inOrder`, true, 'VIRTIO_F_IN_ORDER is implemented for split rings only: do not negotiate it with RING_PACKED');
    const { desc, driver, device } = mapPackedRing(config);
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
    checkPackedSize(config.name, config.size);
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
    // the head goes last (§2.8.6); in a batch, the batch's first head goes last of all
    if (this.batchHeadOff >= 0) {
      le.setU16(bytes, headOff + FLAGS, headFlags);
      this.batchCount++;
    } else if (options?.more === true) {
      this.batchHeadOff = headOff;
      this.batchHeadFlags = headFlags;
      this.batchCount = 1;
    } else this.desc.store16(headOff + FLAGS, headFlags); // release
    if (options?.more !== true || this.batchCount >= AVAIL_PUBLISH_BATCH) this.publish();
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

  /** Store the batch's first head flags: the release that hands the whole batch to the device. */
  private publish(): void {
    if (this.batchHeadOff < 0) return;
    this.desc.store16(this.batchHeadOff + FLAGS, this.batchHeadFlags);
    this.batchHeadOff = -1;
    this.batchCount = 0;
  }

  needsKick(): boolean {
    if (this._error !== null) throw this._error;
    this.publish();
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
    if (this.eventIdx && !this.interruptsDisabled) this.driverArea.store16(VRING_PACKED_EVENT_OFF_WRAP, this.lastUsed | (this.usedWrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    return r;
  }

  takeUsed(sink: UsedTokenSink<T>): number {
    let n = 0;
    let u;
    while ((u = this.getUsed()) !== null) {
      sink.push(u.token);
      n++;
    }
    return n;
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
