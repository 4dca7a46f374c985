// The driver half of a split virtqueue (virtio 1.2 §2.7).
import { ConfigError, le, type GuestAllocator } from '@vbus/core';
import { checkAdd } from './chain-checks.js';
import { InFlightBuffers } from './in-flight.js';
import { InOrderQueue } from './in-order.js';
import { checkSegments, type Segment } from './descriptor.js';
import {
  VIRTQ_AVAIL_ALIGN,
  VIRTQ_AVAIL_FLAGS,
  VIRTQ_AVAIL_IDX,
  VIRTQ_AVAIL_RING,
  VIRTQ_DESC_ALIGN,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_ALIGN,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_IDX,
  VIRTQ_USED_RING,
  VIRTQ_USED_ELEM_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_USED_F_NO_NOTIFY,
  availEventOffset,
  needEvent,
  splitRingSizes,
  usedEventOffset,
} from './layout.js';
import { allocZeroedArea, RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import { AVAIL_PUBLISH_BATCH, type AddOptions, type UsedBuffer, type UsedTokenSink, type VirtqueueDriver, type VirtqueueOptions } from './virtqueue.js';
import { checkSplitSize, checkU16Index, mapSplitRing, writeSplitDesc, type SplitQueueAddresses } from './split-ring.js';

export interface SplitQueueDriverConfig extends VirtqueueOptions, SplitQueueAddresses {
  /** Where indirect tables are allocated (required when `indirect`). */
  readonly allocator?: GuestAllocator;
  /** First avail/used index (free-running u16); the device must start at the same value. */
  readonly startIndex?: number;
}

/**
 * Driver half of a split virtqueue. Its bookkeeping (free list, chain lengths, tokens) lives in
 * its own memory, never read back from the ring, so a device cannot corrupt it; used elements
 * the device returns are checked against it.
 */
export class SplitQueueDriver<T = unknown> extends RingHalf implements VirtqueueDriver<T> {
  private readonly mask: number;
  private readonly memory: VirtqueueOptions['memory'];
  private readonly allocator: GuestAllocator | undefined;
  private readonly desc: RingArea;
  private readonly avail: RingArea;
  private readonly used: RingArea;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly usedEventOff: number;
  private readonly availEventOff: number;
  private readonly nextFree: Uint16Array;
  private readonly chainLen: Uint16Array;
  private readonly buffers: InFlightBuffers<T>;
  private freeHead = 0;
  private _numFree: number;
  private availIdx: number;
  /** The avail index last stored in the ring (behind `availIdx` while a batch is unpublished). */
  private availPublished: number;
  private numAdded = 0;
  /** Where used_event was last parked, while interrupts are off (EVENT_IDX). */
  private parkedFrom = 0;
  private lastUsed: number;
  private usedIdxSeen: number;
  private interruptsDisabled = false;
  /**
   * With VIRTIO_F_IN_ORDER (null without): the heads in flight in the order they were added, the
   * next descriptor in ring order, what each descriptor and avail entry last held (so that a
   * field already holding its value is not written again: a ring reused lap after lap with the
   * same buffers leaves those cache lines shared between the two sides instead of moving them
   * back and forth), and the rest of the batch the last used element named.
   */
  private readonly inOrder: InOrderQueue | null;
  private nextDesc = 0;
  private readonly shadowAddr: Float64Array;
  private readonly shadowLen: Float64Array;
  private readonly shadowFlagsNext: Int32Array;
  private readonly shadowAvail: Int32Array;
  private batchLeft = 0;
  private batchLen = 0;

  constructor(config: SplitQueueDriverConfig) {
    super(config.name, config.size);
    checkSplitSize(config.name, config.size);
    const start = checkU16Index(`${config.name}.startIndex`, config.startIndex);
    if (config.indirect && !config.allocator) throw new ConfigError(`${config.name}.allocator`, undefined, 'indirect descriptors need an allocator');
    const { desc, avail, used } = mapSplitRing(config);
    this.mask = config.size - 1;
    this.memory = config.memory;
    this.allocator = config.allocator;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.eventIdx = config.eventIdx ?? false;
    this.indirect = config.indirect ?? false;
    this.usedEventOff = usedEventOffset(config.size);
    this.availEventOff = availEventOffset(config.size);
    const n = config.size;
    this.nextFree = new Uint16Array(n);
    for (let i = 0; i < n; i++) this.nextFree[i] = (i + 1) & 0xffff;
    this.chainLen = new Uint16Array(n);
    this.buffers = new InFlightBuffers<T>(n, config.allocator);
    this._numFree = n;
    this.availIdx = start;
    this.availPublished = start;
    this.lastUsed = start;
    this.usedIdxSeen = start;
    const shadow = config.inOrder ? n : 0;
    this.inOrder = config.inOrder ? new InOrderQueue(n) : null;
    // NaN and -1 match no value: the first write of each field happens
    this.shadowAddr = new Float64Array(shadow).fill(NaN);
    this.shadowLen = new Float64Array(shadow).fill(NaN);
    this.shadowFlagsNext = new Int32Array(shadow).fill(-1);
    this.shadowAvail = new Int32Array(shadow).fill(-1);
    avail.store16(VIRTQ_AVAIL_FLAGS, 0);
    avail.store16(VIRTQ_AVAIL_IDX, start);
    avail.store16(this.usedEventOff, start);
  }

  /**
   * Allocate and zero the three areas with `allocator`, then make the driver. The addresses are
   * in `driver.addresses` for the transport (and for the device).
   */
  static allocate<T = unknown>(config: VirtqueueOptions & { allocator: GuestAllocator; startIndex?: number }): SplitQueueDriver<T> {
    checkSplitSize(config.name, config.size);
    const s = splitRingSizes(config.size);
    const { memory, allocator } = config;
    const descTable = allocZeroedArea(memory, allocator, s.desc, VIRTQ_DESC_ALIGN);
    const availRing = allocZeroedArea(memory, allocator, s.avail, VIRTQ_AVAIL_ALIGN);
    const usedRing = allocZeroedArea(memory, allocator, s.used, VIRTQ_USED_ALIGN);
    return new SplitQueueDriver<T>({ ...config, descTable, availRing, usedRing });
  }

  get addresses(): SplitQueueAddresses {
    return { descTable: this.desc.address, availRing: this.avail.address, usedRing: this.used.address };
  }
  get numFree(): number {
    return this._numFree;
  }
  get inFlight(): number {
    return this.buffers.count;
  }

  add(readable: readonly Segment[], writable: readonly Segment[], token: T, options?: AddOptions): boolean {
    if (this._error !== null) throw this._error;
    const total = readable.length + writable.length;
    const useIndirect = options?.indirect === true;
    checkAdd(this.name, this.indirect, total, useIndirect);
    if ((useIndirect ? 1 : total) > this._numFree) return false;
    checkSegments(this.name, readable, writable);
    // without IN_ORDER the chain takes descriptors off the free list; with it, the next ones in
    // ring order (next = x + 1, 0 after the last, §2.7.5)
    const order = this.inOrder;
    const head = order === null ? this.freeHead : this.nextDesc;
    let after: number;
    let indirectTable = -1;
    if (useIndirect) {
      indirectTable = this.indirectTable(readable, writable, total);
      this.putDesc(head, indirectTable, total * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT);
      after = this.successor(head);
      this._numFree -= 1;
      this.chainLen[head] = 1;
    } else {
      let i = head;
      for (let k = 0; k < total; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        this.putDesc(i, seg.addr, seg.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (k < total - 1 ? VIRTQ_DESC_F_NEXT : 0));
        i = this.successor(i);
      }
      after = i;
      this._numFree -= total;
      this.chainLen[head] = total;
    }
    this.buffers.add(head, token, indirectTable);
    const slot = this.availIdx & this.mask;
    if (order === null) {
      this.freeHead = after;
      le.setU16(this.avail.bytes, VIRTQ_AVAIL_RING + 2 * slot, head);
    } else {
      this.nextDesc = after;
      let writableBytes = 0;
      for (let k = 0; k < writable.length; k++) writableBytes += writable[k]!.len;
      order.push(head, writableBytes);
      if (this.shadowAvail[slot] !== head) {
        le.setU16(this.avail.bytes, VIRTQ_AVAIL_RING + 2 * slot, head);
        this.shadowAvail[slot] = head;
      }
    }
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (options?.more !== true || ((this.availIdx - this.availPublished) & 0xffff) >= AVAIL_PUBLISH_BATCH) this.publish();
    this.numAdded++;
    return true;
  }

  /** The descriptor a chain continues in after `i`: the free list's next, or with IN_ORDER the next in ring order. */
  private successor(i: number): number {
    return this.inOrder === null ? this.nextFree[i]! : (i + 1) & this.mask;
  }

  /**
   * Write descriptor `i` (its next: {@link successor}). With IN_ORDER each field is written only if
   * it changed (the shadow holds what this driver last wrote; a device never writes the table).
   */
  private putDesc(i: number, addr: number, len: number, flags: number): void {
    const b = this.desc.bytes;
    const next = this.successor(i);
    if (this.inOrder === null) {
      writeSplitDesc(b, i, addr, len, flags, next);
      return;
    }
    const off = i * VIRTQ_DESC_SIZE;
    if (this.shadowAddr[i] !== addr) {
      le.setU64(b, off, addr);
      this.shadowAddr[i] = addr;
    }
    if (this.shadowLen[i] !== len) {
      le.setU32(b, off + 8, len);
      this.shadowLen[i] = len;
    }
    const flagsNext = flags | (next << 16);
    if (this.shadowFlagsNext[i] !== flagsNext) {
      le.setU16(b, off + 12, flags);
      le.setU16(b, off + 14, next);
      this.shadowFlagsNext[i] = flagsNext;
    }
  }

  /** Allocate and fill an indirect table for the segments (entries in order: next = k + 1, §2.7.5.3); returns its address. */
  private indirectTable(readable: readonly Segment[], writable: readonly Segment[], total: number): number {
    const tableLen = total * VIRTQ_DESC_SIZE;
    const table = this.allocator!.alloc(tableLen, VIRTQ_DESC_ALIGN);
    const t = this.memory.view(table, tableLen);
    for (let k = 0; k < total; k++) {
      const w = k >= readable.length;
      const seg = w ? writable[k - readable.length]! : readable[k]!;
      writeSplitDesc(t, k, seg.addr, seg.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (k < total - 1 ? VIRTQ_DESC_F_NEXT : 0), k + 1 < total ? k + 1 : 0);
    }
    return table;
  }

  /** Store the avail index: the release that hands every buffer written since to the device. */
  private publish(): void {
    if (this.availPublished === this.availIdx) return;
    this.availPublished = this.availIdx;
    this.avail.store16(VIRTQ_AVAIL_IDX, this.availIdx); // release: descriptors and slots first
  }

  needsKick(): boolean {
    if (this._error !== null) throw this._error;
    this.publish();
    const added = this.numAdded;
    this.numAdded = 0;
    if (added === 0) return false;
    if (added >= 0xffff) return true;
    const newIdx = this.availIdx;
    const oldIdx = (newIdx - added) & 0xffff;
    if (this.eventIdx) return needEvent(this.used.load16(this.availEventOff), newIdx, oldIdx);
    return (this.used.load16(VIRTQ_USED_FLAGS) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  hasUsed(): boolean {
    return this._error === null && this.used.load16(VIRTQ_USED_IDX) !== this.lastUsed;
  }

  getUsed(): UsedBuffer<T> | null {
    if (this._error !== null) throw this._error;
    if (this.inOrder !== null) return this.getUsedInOrder();
    if (!this.usedWaiting()) return null;
    const slot = this.lastUsed & this.mask;
    const off = VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * slot;
    const id = le.getU32(this.used.bytes, off);
    const len = le.getU32(this.used.bytes, off + 4);
    if (!this.buffers.has(id)) this.fail(slot, id, `used.ring[${slot}].id ${id} is not a head in flight (§2.7.8)`);
    const r = this.buffers.take(id, len);
    const n = this.chainLen[id]!;
    let tail = id;
    for (let k = 1; k < n; k++) tail = this.nextFree[tail]!;
    this.nextFree[tail] = this.freeHead;
    this.freeHead = id;
    this._numFree += n;
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    this.afterUsed();
    return r;
  }

  /**
   * `getUsed` with IN_ORDER: a used element names the last buffer of a batch that starts at the
   * oldest buffer in flight; the buffers before it count as used completely (their writable
   * total, §2.7.9), and the batch is handed out one buffer per call.
   */
  private getUsedInOrder(): UsedBuffer<T> | null {
    const order = this.inOrder!;
    if (this.batchLeft === 0 && !this.nextBatch(order)) return null;
    const id = order.head(0);
    const len = this.batchLeft === 1 ? this.batchLen : order.fullLen();
    order.shift();
    this.batchLeft--;
    const r = this.buffers.take(id, len);
    this._numFree += this.chainLen[id]!;
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    this.afterUsed();
    return r;
  }

  /**
   * IN_ORDER: read the next used element, if one waits, and check that it names one of the
   * buffers in flight within the used index the device published; sets `batchLeft` to the
   * buffers it covers. False when none waits.
   */
  private nextBatch(order: InOrderQueue): boolean {
    if (!this.usedWaiting()) return false;
    const slot = this.lastUsed & this.mask;
    const off = VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * slot;
    const id = le.getU32(this.used.bytes, off);
    const len = le.getU32(this.used.bytes, off + 4);
    // the batch cannot reach past the used index the device published
    const limit = (this.usedIdxSeen - this.lastUsed) & 0xffff;
    let k = 0;
    while (k < limit && order.head(k) !== id) k++;
    if (k === limit) this.fail(slot, id, `used.ring[${slot}].id ${id} is not one of the next ${limit} buffers in flight, in the order they were added (VIRTIO_F_IN_ORDER, §2.7.9)`);
    this.batchLeft = k + 1;
    this.batchLen = len;
    return true;
  }

  takeUsed(sink: UsedTokenSink<T>): number {
    if (this._error !== null) throw this._error;
    const order = this.inOrder;
    let n = 0;
    if (order === null) {
      let u;
      while ((u = this.getUsed()) !== null) {
        sink.push(u.token);
        n++;
      }
      return n;
    }
    const buffers = this.buffers;
    const chainLen = this.chainLen;
    const parked = this.eventIdx && this.interruptsDisabled;
    const parkAt = 0x8000 - this.size;
    while (this.batchLeft > 0 || this.nextBatch(order)) {
      // the whole batch in one loop; the state moves before each token is handed out
      while (this.batchLeft > 0) {
        const id = order.head(0);
        order.shift();
        this.batchLeft--;
        this._numFree += chainLen[id]!;
        this.lastUsed = (this.lastUsed + 1) & 0xffff;
        if (parked && ((this.lastUsed - this.parkedFrom) & 0xffff) > parkAt) this.park();
        n++;
        sink.push(buffers.release(id));
      }
      // interrupts on: used_event once per batch (getUsed writes it per buffer; the last value
      // is the one that counts, and the used index is read again after it, as getUsed would)
      if (this.eventIdx && !this.interruptsDisabled) this.avail.store16(this.usedEventOff, this.lastUsed);
    }
    return n;
  }

  /**
   * True when a used element waits past `lastUsed`: the used index is loaded (and checked against
   * the buffers in flight) only once the elements seen last time are taken.
   */
  private usedWaiting(): boolean {
    if (this.lastUsed !== this.usedIdxSeen) return true;
    const idx = this.used.load16(VIRTQ_USED_IDX);
    const ahead = (idx - this.lastUsed) & 0xffff;
    if (ahead > this.buffers.count) this.fail(-1, idx, `used.idx is ${ahead} entries ahead but only ${this.buffers.count} buffers are in flight`);
    if (ahead === 0) return false;
    this.usedIdxSeen = idx;
    return true;
  }

  /** used_event after a buffer was taken (EVENT_IDX). */
  private afterUsed(): void {
    if (this.eventIdx) {
      // interrupts on: the next used entry is the event (Linux's get_buf). Off: used_event stays
      // parked half the index space ahead, moved on only before the device could reach it
      if (!this.interruptsDisabled) this.avail.store16(this.usedEventOff, this.lastUsed);
      else if (((this.lastUsed - this.parkedFrom) & 0xffff) > 0x8000 - this.size) this.park();
    }
  }

  enableInterrupts(): boolean {
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = false;
    if (this.eventIdx) this.avail.store16(this.usedEventOff, this.lastUsed);
    else this.avail.store16(VIRTQ_AVAIL_FLAGS, 0);
    return this.used.load16(VIRTQ_USED_IDX) !== this.lastUsed;
  }

  enableInterruptsDelayed(): boolean {
    if (!this.eventIdx) return this.enableInterrupts();
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = false;
    const bufs = (((this.availIdx - this.lastUsed) & 0xffff) * 3) >>> 2;
    this.avail.store16(this.usedEventOff, (this.lastUsed + bufs) & 0xffff);
    return ((this.used.load16(VIRTQ_USED_IDX) - this.lastUsed) & 0xffff) > bufs;
  }

  disableInterrupts(): void {
    if (this._error !== null) throw this._error;
    this.interruptsDisabled = true;
    // with EVENT_IDX the flags must stay 0 (§2.7.7.1): park used_event half the index space away,
    // where no used index the device can reach before the next getUsed will cross it
    if (this.eventIdx) this.park();
    else this.avail.store16(VIRTQ_AVAIL_FLAGS, VRING_AVAIL_F_NO_INTERRUPT);
  }

  /**
   * used_event half the index space past the last used entry: the device's used index, at most
   * `size` past the driver's, cannot cross it before the driver has taken 0x8000 - size more
   * entries, when getUsed parks it again. One store per that many entries, not one per entry.
   */
  private park(): void {
    this.parkedFrom = this.lastUsed;
    this.avail.store16(this.usedEventOff, (this.lastUsed + 0x8000) & 0xffff);
  }
}
