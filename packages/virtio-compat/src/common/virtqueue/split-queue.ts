import { ConfigError, le, type GuestAllocator } from '@vbus/core';
import { checkAdd, checkBuffer, checkIndirectDescriptor } from './chain-checks.js';
import { DescriptorChain } from './descriptor-chain.js';
import { InFlightBuffers } from './in-flight.js';
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
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ALIGN,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_IDX,
  VIRTQ_USED_RING,
  VIRTQ_USED_ELEM_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_USED_F_NO_NOTIFY,
  availEventOffset,
  isValidSplitSize,
  needEvent,
  splitRingSizes,
  usedEventOffset,
} from './layout.js';
import { allocZeroedArea, RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import { StampSet } from './stamp-set.js';
import type { AddOptions, UsedBuffer, VirtqueueDevice, VirtqueueDriver, VirtqueueOptions } from './virtqueue.js';

/** Guest addresses of the three split-ring areas (§2.7). */
export interface SplitQueueAddresses {
  /** Descriptor table, 16·N bytes, 16-aligned. */
  readonly descTable: number;
  /** Available ring, 6+2·N bytes, 2-aligned. */
  readonly availRing: number;
  /** Used ring, 6+8·N bytes, 4-aligned. */
  readonly usedRing: number;
}

/** The device's position in a split ring: plain data to save and restore. */
export interface SplitQueueState {
  /** Next avail.idx value to consume (free-running u16). */
  readonly nextAvail: number;
  /** Next used.idx value to publish (free-running u16). */
  readonly nextUsed: number;
}

export interface SplitQueueDeviceConfig extends VirtqueueOptions, SplitQueueAddresses, Partial<SplitQueueState> {}

function checkSize(name: string, size: number): void {
  if (!isValidSplitSize(size)) throw new ConfigError(`${name}.size`, size, `split queue size must be a power of two in 1..${VIRTQ_MAX_SIZE}`);
}

function checkIndex(option: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ConfigError(option, v, 'must be a u16');
  return v;
}

function mapSplit(config: VirtqueueOptions & SplitQueueAddresses): { desc: RingArea; avail: RingArea; used: RingArea } {
  const s = splitRingSizes(config.size);
  return {
    desc: RingArea.map(config.memory, config.name, 'descriptor table', config.descTable, s.desc, VIRTQ_DESC_ALIGN),
    avail: RingArea.map(config.memory, config.name, 'available ring', config.availRing, s.avail, VIRTQ_AVAIL_ALIGN),
    used: RingArea.map(config.memory, config.name, 'used ring', config.usedRing, s.used, VIRTQ_USED_ALIGN),
  };
}

/**
 * Device half of a split virtqueue (§2.7). Pops chains as checked copies, publishes used
 * elements, and implements both suppression schemes: the flags (VRING_USED_F_NO_NOTIFY /
 * VRING_AVAIL_F_NO_INTERRUPT) and, with EVENT_IDX, avail_event / used_event.
 */
export class SplitQueueDevice extends RingHalf implements VirtqueueDevice {
  private readonly mask: number;
  private readonly memory: VirtqueueOptions['memory'];
  private readonly desc: RingArea;
  private readonly avail: RingArea;
  private readonly used: RingArea;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly usedEventOff: number;
  private readonly availEventOff: number;
  private readonly chain = new DescriptorChain();
  private readonly visited: StampSet;
  private readonly visitedIndirect = new StampSet(0);
  private nextAvail: number;
  private availIdxSeen: number;
  private nextUsed: number;
  private signalledUsed: number;
  private notifyDisabled = false;

  /**
   * Throws {@link ConfigError} for a bad size or state and {@link "@vbus/core"!RingError} for ring areas that
   * are misaligned or outside guest memory; nothing is written then.
   */
  constructor(config: SplitQueueDeviceConfig) {
    super(config.name, config.size);
    checkSize(config.name, config.size);
    const nextAvail = checkIndex(`${config.name}.nextAvail`, config.nextAvail);
    const nextUsed = checkIndex(`${config.name}.nextUsed`, config.nextUsed);
    const { desc, avail, used } = mapSplit(config);
    this.mask = config.size - 1;
    this.memory = config.memory;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.eventIdx = config.eventIdx ?? false;
    this.indirect = config.indirect ?? false;
    this.usedEventOff = usedEventOffset(config.size);
    this.availEventOff = availEventOffset(config.size);
    this.visited = new StampSet(config.size);
    this.nextAvail = nextAvail;
    this.availIdxSeen = nextAvail;
    this.nextUsed = nextUsed;
    this.signalledUsed = nextUsed;
    used.store16(VIRTQ_USED_FLAGS, 0);
    used.store16(VIRTQ_USED_IDX, nextUsed);
    if (this.eventIdx) used.store16(this.availEventOff, nextAvail);
  }

  /** The position to save (e.g. for migration); feed it back as config to resume. */
  state(): SplitQueueState {
    return { nextAvail: this.nextAvail, nextUsed: this.nextUsed };
  }


  hasAvailable(): boolean {
    return this._error === null && this.avail.load16(VIRTQ_AVAIL_IDX) !== this.nextAvail;
  }

  popChain(into?: DescriptorChain): DescriptorChain | null {
    if (this._error !== null) throw this._error;
    if (this.nextAvail === this.availIdxSeen) {
      const idx = this.avail.load16(VIRTQ_AVAIL_IDX);
      const ahead = (idx - this.nextAvail) & 0xffff;
      if (ahead > this.size)
        this.fail(-1, idx, `avail.idx is ${ahead} entries ahead of the last seen ${this.nextAvail}, more than the queue size ${this.size} (virtio 1.2 §2.7.6)`);
      if (ahead === 0) return null;
      this.availIdxSeen = idx;
    }
    const slot = this.nextAvail & this.mask;
    const head = le.getU16(this.avail.bytes, VIRTQ_AVAIL_RING + 2 * slot);
    if (head >= this.size) this.fail(slot, head, `avail.ring[${slot}] head index ${head} is not below the queue size ${this.size} (§2.7.6)`);
    const chain = into ?? this.chain;
    this.walk(head, chain);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx && !this.notifyDisabled) this.used.store16(this.availEventOff, this.nextAvail);
    return chain;
  }

  /** Copy the chain starting at `head` out of the table, checking every rule; bounded by table lengths. */
  private walk(head: number, chain: DescriptorChain): void {
    const mem = this.memory;
    chain.reset(mem);
    chain.id = head;
    let table = this.desc.bytes;
    let tableLen = this.size;
    let visited = this.visited;
    visited.clear();
    let where = 'descriptor';
    let inIndirect = false;
    let seenWritable = false;
    let total = 0;
    let i = head;
    for (;;) {
      if (!visited.add(i)) this.fail(i, i, `${where} ${i} is visited twice: the chain loops (§2.7.5.3.1: a chain is at most queue-size long)`);
      const off = i * VIRTQ_DESC_SIZE;
      // the copy: each field is read from guest memory exactly once
      const addr = le.getU64(table, off);
      const len = le.getU32(table, off + 8);
      const flags = le.getU16(table, off + 12);
      const next = le.getU16(table, off + 14);
      if (!inIndirect) chain.ringSlots++;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (inIndirect) this.fail(i, flags, `indirect descriptor ${i} sets INDIRECT: nested indirect tables are forbidden (§2.7.5.3.1)`);
        checkIndirectDescriptor(this.failAt, mem, i, flags, addr, len, this.indirect, '§2.7.5.3.1');
        table = mem.view(addr, len);
        tableLen = len / VIRTQ_DESC_SIZE;
        visited = this.visitedIndirect;
        visited.resize(tableLen);
        visited.clear();
        where = 'indirect descriptor';
        inIndirect = true;
        chain.indirect = true;
        i = 0;
        continue;
      }
      total = checkBuffer(this.failAt, mem, i, where, addr, len, flags, seenWritable, total, '§2.7.4.2');
      seenWritable ||= (flags & VIRTQ_DESC_F_WRITE) !== 0;
      chain.push(addr, len, flags);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return;
      if (next >= tableLen) this.fail(i, next, `${where} ${i} has next ${next}, not below ${inIndirect ? 'the table length' : 'the queue size'} ${tableLen} (§2.7.5)`);
      i = next;
    }
  }

  addUsed(id: number, len: number): void {
    if (this._error !== null) throw this._error;
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new ConfigError(`${this.name}.addUsed.id`, id, 'not a head index of this queue');
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw new ConfigError(`${this.name}.addUsed.len`, len, 'must be a u32');
    const off = VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * (this.nextUsed & this.mask);
    le.setU32(this.used.bytes, off, id);
    le.setU32(this.used.bytes, off + 4, len);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    this.used.store16(VIRTQ_USED_IDX, this.nextUsed); // release: the element is visible first
  }

  needsNotification(): boolean {
    if (this._error !== null) throw this._error;
    const newIdx = this.nextUsed;
    const oldIdx = this.signalledUsed;
    this.signalledUsed = newIdx;
    if (newIdx === oldIdx) return false;
    if (this.eventIdx) return needEvent(this.avail.load16(this.usedEventOff), newIdx, oldIdx);
    return (this.avail.load16(VIRTQ_AVAIL_FLAGS) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
  }

  enableNotification(): boolean {
    if (this._error !== null) throw this._error;
    this.notifyDisabled = false;
    if (this.eventIdx) this.used.store16(this.availEventOff, this.nextAvail);
    else this.used.store16(VIRTQ_USED_FLAGS, 0);
    // the store above is sequentially consistent: this load cannot pass it (the re-check Linux does)
    return this.avail.load16(VIRTQ_AVAIL_IDX) !== this.nextAvail;
  }

  disableNotification(): void {
    if (this._error !== null) throw this._error;
    this.notifyDisabled = true;
    // with EVENT_IDX, avail_event simply stays behind: the driver will not pass it again
    if (!this.eventIdx) this.used.store16(VIRTQ_USED_FLAGS, VRING_USED_F_NO_NOTIFY);
  }
}

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
  private numAdded = 0;
  private lastUsed: number;
  private usedIdxSeen: number;
  private interruptsDisabled = false;

  constructor(config: SplitQueueDriverConfig) {
    super(config.name, config.size);
    checkSize(config.name, config.size);
    const start = checkIndex(`${config.name}.startIndex`, config.startIndex);
    if (config.indirect && !config.allocator) throw new ConfigError(`${config.name}.allocator`, undefined, 'indirect descriptors need an allocator');
    const { desc, avail, used } = mapSplit(config);
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
    this.lastUsed = start;
    this.usedIdxSeen = start;
    avail.store16(VIRTQ_AVAIL_FLAGS, 0);
    avail.store16(VIRTQ_AVAIL_IDX, start);
    avail.store16(this.usedEventOff, start);
  }

  /**
   * Allocate and zero the three areas with `allocator`, then make the driver. The addresses are
   * in `driver.addresses` for the transport (and for the device).
   */
  static allocate<T = unknown>(config: VirtqueueOptions & { allocator: GuestAllocator; startIndex?: number }): SplitQueueDriver<T> {
    checkSize(config.name, config.size);
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
    const head = this.freeHead;
    let indirectTable = -1;
    if (useIndirect) {
      const tableLen = total * VIRTQ_DESC_SIZE;
      const table = this.allocator!.alloc(tableLen, VIRTQ_DESC_ALIGN);
      const t = this.memory.view(table, tableLen);
      for (let k = 0; k < total; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        writeDesc(t, k, seg.addr, seg.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (k < total - 1 ? VIRTQ_DESC_F_NEXT : 0), k + 1 < total ? k + 1 : 0);
      }
      writeDesc(this.desc.bytes, head, table, tableLen, VIRTQ_DESC_F_INDIRECT, this.nextFree[head]!);
      this.freeHead = this.nextFree[head]!;
      this._numFree -= 1;
      this.chainLen[head] = 1;
      indirectTable = table;
    } else {
      let i = head;
      for (let k = 0; k < total; k++) {
        const w = k >= readable.length;
        const seg = w ? writable[k - readable.length]! : readable[k]!;
        writeDesc(this.desc.bytes, i, seg.addr, seg.len, (w ? VIRTQ_DESC_F_WRITE : 0) | (k < total - 1 ? VIRTQ_DESC_F_NEXT : 0), this.nextFree[i]!);
        i = this.nextFree[i]!;
      }
      this.freeHead = i;
      this._numFree -= total;
      this.chainLen[head] = total;
    }
    this.buffers.add(head, token, indirectTable);
    le.setU16(this.avail.bytes, VIRTQ_AVAIL_RING + 2 * (this.availIdx & this.mask), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.avail.store16(VIRTQ_AVAIL_IDX, this.availIdx); // release: descriptors and slot first
    this.numAdded++;
    return true;
  }

  needsKick(): boolean {
    if (this._error !== null) throw this._error;
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
    if (this.lastUsed === this.usedIdxSeen) {
      const idx = this.used.load16(VIRTQ_USED_IDX);
      const ahead = (idx - this.lastUsed) & 0xffff;
      if (ahead > this.buffers.count) this.fail(-1, idx, `used.idx is ${ahead} entries ahead but only ${this.buffers.count} buffers are in flight`);
      if (ahead === 0) return null;
      this.usedIdxSeen = idx;
    }
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
    if (this.eventIdx) this.avail.store16(this.usedEventOff, this.interruptsDisabled ? (this.lastUsed + 0x8000) & 0xffff : this.lastUsed);
    return r;
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
    if (this.eventIdx) this.avail.store16(this.usedEventOff, (this.lastUsed + 0x8000) & 0xffff);
    else this.avail.store16(VIRTQ_AVAIL_FLAGS, VRING_AVAIL_F_NO_INTERRUPT);
  }

}

function writeDesc(bytes: Uint8Array, i: number, addr: number, len: number, flags: number, next: number): void {
  const off = i * VIRTQ_DESC_SIZE;
  le.setU64(bytes, off, addr);
  le.setU32(bytes, off + 8, len);
  le.setU16(bytes, off + 12, flags);
  le.setU16(bytes, off + 14, next);
}
