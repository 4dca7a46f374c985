// The device half of a packed virtqueue (virtio 1.2 §2.8).
import { ConfigError, le } from '@vbus/core';
import { checkBuffer, checkIndirectDescriptor } from './chain-checks.js';
import { DescriptorChain } from './descriptor-chain.js';
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_LEN,
  VIRTQ_DESC_SIZE,
  VIRTQ_PACKED_DESC_F_AVAIL,
  VIRTQ_PACKED_DESC_F_USED,
  VIRTQ_PACKED_DESC_ID,
  VRING_PACKED_EVENT_FLAGS,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_OFF_WRAP,
  needEventMod,
} from './layout.js';
import { RingArea } from './ring-area.js';
import { RingHalf } from './ring-half.js';
import { USED_PUBLISH_BATCH, type VirtqueueDevice, type VirtqueueOptions } from './virtqueue.js';
import { checkPackedSize, FLAGS, isAvail, mapPackedRing, type PackedQueueAddresses, type PackedQueueState } from './packed-ring.js';

export interface PackedQueueDeviceConfig extends VirtqueueOptions, PackedQueueAddresses {}

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
  /**
   * An unpublished batch of used descriptors (addUsed with `more`): the first one's flags wait
   * here and are stored last, releasing the others, whose flags were written plainly (the driver
   * reads used descriptors in ring order, so it cannot pass the first). -1: no batch.
   */
  private batchOff = -1;
  private batchFlags = 0;
  private batchCount = 0;
  private signalledUsed = 0;
  private notifyDisabled = false;

  constructor(config: PackedQueueDeviceConfig) {
    super(config.name, config.size);
    checkPackedSize(config.name, config.size);
    const { desc, driver, device } = mapPackedRing(config);
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
    if (this._error === null) this.publish();
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
    if (this.eventIdx && !this.notifyDisabled) this.deviceArea.store16(VRING_PACKED_EVENT_OFF_WRAP, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR));
    return chain;
  }

  addUsed(id: number, len: number, more = false): void {
    if (this._error !== null) throw this._error;
    if (!Number.isInteger(id) || id < 0 || id >= this.size || this.idInFlight[id] === 0)
      throw new ConfigError(`${this.name}.addUsed.id`, id, 'not a buffer id in flight on this queue');
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw new ConfigError(`${this.name}.addUsed.len`, len, 'must be a u32');
    const off = this.nextUsed * VIRTQ_DESC_SIZE;
    le.setU32(this.desc.bytes, off + VIRTQ_DESC_LEN, len);
    le.setU16(this.desc.bytes, off + VIRTQ_PACKED_DESC_ID, id);
    // the flags go last: AVAIL = USED = the device's wrap counter
    const flags = this.usedWrap ? VIRTQ_PACKED_DESC_F_AVAIL | VIRTQ_PACKED_DESC_F_USED : 0;
    if (this.batchOff >= 0) {
      le.setU16(this.desc.bytes, off + FLAGS, flags); // released by the batch's first descriptor
      this.batchCount++;
    } else if (more) {
      this.batchOff = off;
      this.batchFlags = flags;
      this.batchCount = 1;
    } else this.desc.store16(off + FLAGS, flags); // release
    this.idInFlight[id] = 0;
    this.nextUsed += this.idSlots[id]!;
    if (this.nextUsed >= this.size) {
      this.nextUsed -= this.size;
      this.usedWrap ^= 1;
    }
    if (this.batchOff >= 0 && (!more || this.batchCount >= USED_PUBLISH_BATCH)) this.publish();
  }

  /** Store the batch's first flags: the release that hands the whole batch to the driver. */
  private publish(): void {
    if (this.batchOff < 0) return;
    this.desc.store16(this.batchOff + FLAGS, this.batchFlags);
    this.batchOff = -1;
    this.batchCount = 0;
  }

  needsNotification(): boolean {
    if (this._error !== null) throw this._error;
    this.publish();
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
