// The device half of a split virtqueue (virtio 1.2 §2.7).
import { ConfigError, le } from '@vbus/core';
import { checkBuffer, checkIndirectDescriptor } from './chain-checks.js';
import { DescriptorChain } from './descriptor-chain.js';
import { InOrderQueue } from './in-order.js';
import {
  VIRTQ_AVAIL_FLAGS,
  VIRTQ_AVAIL_IDX,
  VIRTQ_AVAIL_RING,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_IDX,
  VIRTQ_USED_RING,
  VIRTQ_USED_ELEM_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_USED_F_NO_NOTIFY,
  availEventOffset,
  needEvent,
  usedEventOffset,
} from './layout.js';
import { RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import { StampSet } from './stamp-set.js';
import { USED_PUBLISH_BATCH, type VirtqueueDevice, type VirtqueueOptions } from './virtqueue.js';
import { checkSplitSize, checkU16Index, mapSplitRing, type SplitQueueAddresses, type SplitQueueState } from './split-ring.js';

export interface SplitQueueDeviceConfig extends VirtqueueOptions, SplitQueueAddresses, Partial<SplitQueueState> {}

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
  /** The used index last stored in the ring (behind `nextUsed` while a batch is unpublished). */
  private usedPublished: number;
  private signalledUsed: number;
  private notifyDisabled = false;
  /**
   * With VIRTIO_F_IN_ORDER: the popped chains not yet used, in pop order, and the batch of used
   * buffers whose one element is not written yet (it goes at the batch's first used slot and
   * names its last buffer, §2.7.9). Null without IN_ORDER.
   */
  private readonly inOrder: InOrderQueue | null;
  private batchCount = 0;
  private batchStart = 0;
  private batchLastId = 0;
  private batchLastLen = 0;
  private batchLastComplete = false;

  /**
   * Throws {@link ConfigError} for a bad size or state and {@link "@vbus/core"!RingError} for ring areas that
   * are misaligned or outside guest memory; nothing is written then.
   */
  constructor(config: SplitQueueDeviceConfig) {
    super(config.name, config.size);
    checkSplitSize(config.name, config.size);
    const nextAvail = checkU16Index(`${config.name}.nextAvail`, config.nextAvail);
    const nextUsed = checkU16Index(`${config.name}.nextUsed`, config.nextUsed);
    const { desc, avail, used } = mapSplitRing(config);
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
    this.usedPublished = nextUsed;
    this.signalledUsed = nextUsed;
    this.inOrder = config.inOrder ? new InOrderQueue(config.size) : null;
    if (this.inOrder !== null) this.resumeInOrder();
    used.store16(VIRTQ_USED_FLAGS, 0);
    used.store16(VIRTQ_USED_IDX, nextUsed);
    if (this.eventIdx) used.store16(this.availEventOff, nextAvail);
  }

  /**
   * Resuming at a state with buffers in flight (nextAvail ahead of nextUsed): they were popped
   * before, in avail-ring order, so the in-order queue is rebuilt from the avail ring. Their
   * lengths are unknown: each is given back with an element of its own.
   */
  private resumeInOrder(): void {
    const inFlight = (this.nextAvail - this.nextUsed) & 0xffff;
    if (inFlight > this.size) throw new ConfigError(`${this.name}.nextAvail`, this.nextAvail, `is ${inFlight} past nextUsed ${this.nextUsed}, more than the queue size`);
    for (let k = 0; k < inFlight; k++) {
      const slot = (this.nextUsed + k) & this.mask;
      const head = le.getU16(this.avail.bytes, VIRTQ_AVAIL_RING + 2 * slot);
      if (head >= this.size) this.fail(slot, head, `avail.ring[${slot}] head index ${head} is not below the queue size ${this.size} (§2.7.6)`);
      this.inOrder!.push(head, -1);
    }
  }

  /** The position to save (e.g. for migration); feed it back as config to resume. */
  state(): SplitQueueState {
    if (this._error === null) this.publish();
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
    const order = this.inOrder;
    if (order !== null && order.count === this.size)
      this.fail(slot, head, `avail.ring[${slot}] makes a buffer available while ${this.size} (the queue size) are in flight: a head was reused before it was used (§2.7.9)`);
    this.walk(head, chain);
    order?.push(head, chain.writableBytes);
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
    let words = this.desc.u32;
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
      // the copy: each field is read from guest memory exactly once (the queue's own table as
      // four u32 loads, an indirect table, which may be unaligned, byte by byte)
      let addr: number, len: number, flags: number, next: number;
      if (words !== null) {
        const w = i * (VIRTQ_DESC_SIZE >> 2);
        addr = words[w]! + words[w + 1]! * 0x1_0000_0000;
        len = words[w + 2]!;
        const flagsNext = words[w + 3]!;
        flags = flagsNext & 0xffff;
        next = flagsNext >>> 16;
      } else {
        const off = i * VIRTQ_DESC_SIZE;
        addr = le.getU64(table, off);
        len = le.getU32(table, off + 8);
        flags = le.getU16(table, off + 12);
        next = le.getU16(table, off + 14);
      }
      if (!inIndirect) chain.ringSlots++;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (inIndirect) this.fail(i, flags, `indirect descriptor ${i} sets INDIRECT: nested indirect tables are forbidden (§2.7.5.3.1)`);
        checkIndirectDescriptor(this.failAt, mem, i, flags, addr, len, this.indirect, '§2.7.5.3.1');
        table = mem.view(addr, len);
        words = null;
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

  addUsed(id: number, len: number, more = false): void {
    if (this._error !== null) throw this._error;
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new ConfigError(`${this.name}.addUsed.id`, id, 'not a head index of this queue');
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw new ConfigError(`${this.name}.addUsed.len`, len, 'must be a u32');
    const order = this.inOrder;
    if (order === null) this.writeUsed(this.nextUsed, id, len);
    else {
      if (order.count === 0 || order.head(0) !== id)
        throw new ConfigError(
          `${this.name}.addUsed.id`,
          id,
          `VIRTIO_F_IN_ORDER was negotiated: buffers are used in the order they were made available, and the next one is ${order.count === 0 ? 'none (no chain is popped)' : `head ${order.head(0)}`}`,
        );
      const complete = len === order.fullLen();
      order.shift();
      // a buffer used less than completely must be named by an element: it ends its batch
      if (this.batchCount > 0 && !this.batchLastComplete) this.writeBatch();
      if (this.batchCount === 0) this.batchStart = this.nextUsed;
      this.batchCount++;
      this.batchLastId = id;
      this.batchLastLen = len;
      this.batchLastComplete = complete;
    }
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    if (!more || ((this.nextUsed - this.usedPublished) & 0xffff) >= USED_PUBLISH_BATCH) this.publish();
  }

  /** Write the used element at used index `at` (published by the next {@link publish}). */
  private writeUsed(at: number, id: number, len: number): void {
    const off = VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * (at & this.mask);
    le.setU32(this.used.bytes, off, id);
    le.setU32(this.used.bytes, off + 4, len);
  }

  /** IN_ORDER: the batch's one element, at its first slot, naming its last buffer (§2.7.9). */
  private writeBatch(): void {
    this.writeUsed(this.batchStart, this.batchLastId, this.batchLastLen);
    this.batchCount = 0;
  }

  /** Store the used index: the release that hands every element written since to the driver. */
  private publish(): void {
    if (this.batchCount > 0) this.writeBatch();
    if (this.usedPublished === this.nextUsed) return;
    this.usedPublished = this.nextUsed;
    this.used.store16(VIRTQ_USED_IDX, this.nextUsed); // release: the elements are visible first
  }

  needsNotification(): boolean {
    if (this._error !== null) throw this._error;
    this.publish();
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
