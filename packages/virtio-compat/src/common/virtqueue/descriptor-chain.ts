import type { GuestMemory } from '@vbus/core';
import { VIRTQ_DESC_F_WRITE } from './layout.js';

/**
 * A descriptor chain popped by a device: a COPY of every descriptor's addr, len and flags taken
 * out of guest memory once, then checked (§2.7.4.2, §2.7.5.3, §2.8). The guest can rewrite its
 * ring afterwards without changing what the device sees. Indirect tables are flattened: the chain
 * lists the buffers, not the table descriptor.
 *
 * A chain object is reused by its queue on every pop (no allocation in steady state); a device
 * that keeps several chains in flight passes its own chain objects to `popChain(into)`.
 * After a successful pop, descriptors `[0, readableCount)` are device-readable and the rest are
 * device-writable, every buffer lies inside guest memory and the byte totals fit in u32.
 */
export class DescriptorChain {
  private addrs: Float64Array;
  private lens: Uint32Array;
  private flagsArr: Uint16Array;
  private _count = 0;
  private _reader: ChainReader | null = null;
  private _writer: ChainWriter | null = null;
  /** Guest memory the buffers live in. */
  memory: GuestMemory | null = null;
  /**
   * What the device gives back to `addUsed`: the head descriptor index (split) or the buffer id
   * (packed).
   */
  id = 0;
  /** Number of device-readable descriptors (they come first). */
  readableCount = 0;
  /** Total bytes of the device-readable part. */
  readableBytes = 0;
  /** Total bytes of the device-writable part. */
  writableBytes = 0;
  /** Ring slots the chain occupied (packed: how far the used index skips; split: descriptors in the table). */
  ringSlots = 0;
  /** True if the buffers came from an indirect table. */
  indirect = false;

  constructor(capacity = 16) {
    const c = Math.max(1, capacity);
    this.addrs = new Float64Array(c);
    this.lens = new Uint32Array(c);
    this.flagsArr = new Uint16Array(c);
  }

  /** Number of buffers (descriptors) in the chain. */
  get length(): number {
    return this._count;
  }
  /** Guest address of buffer `i`. */
  addr(i: number): number {
    return this.addrs[i]!;
  }
  /** Length of buffer `i`. */
  len(i: number): number {
    return this.lens[i]!;
  }
  /** Flags of buffer `i` as the guest wrote them (after the copy). */
  flags(i: number): number {
    return this.flagsArr[i]!;
  }
  /** True if buffer `i` is device-writable. */
  isWritable(i: number): boolean {
    return (this.flagsArr[i]! & VIRTQ_DESC_F_WRITE) !== 0;
  }

  /** A reader over the device-readable part, rewound. The same object is returned each time. */
  reader(): ChainReader {
    const r = (this._reader ??= new ChainReader(this));
    r.rewind();
    return r;
  }
  /** A writer over the device-writable part, rewound. The same object is returned each time. */
  writer(): ChainWriter {
    const w = (this._writer ??= new ChainWriter(this));
    w.rewind();
    return w;
  }

  /** @internal Start filling the chain (used by the queues). */
  reset(memory: GuestMemory): void {
    this.memory = memory;
    this._count = 0;
    this.id = 0;
    this.readableCount = 0;
    this.readableBytes = 0;
    this.writableBytes = 0;
    this.ringSlots = 0;
    this.indirect = false;
  }

  /** @internal Append a checked descriptor copy (used by the queues). */
  push(addr: number, len: number, flags: number): void {
    if (this._count === this.addrs.length) this.grow();
    const i = this._count++;
    this.addrs[i] = addr;
    this.lens[i] = len;
    this.flagsArr[i] = flags;
    if ((flags & VIRTQ_DESC_F_WRITE) !== 0) this.writableBytes += len;
    else {
      this.readableCount++;
      this.readableBytes += len;
    }
  }

  private grow(): void {
    const c = this.addrs.length * 2;
    const a = new Float64Array(c);
    a.set(this.addrs);
    const l = new Uint32Array(c);
    l.set(this.lens);
    const f = new Uint16Array(c);
    f.set(this.flagsArr);
    this.addrs = a;
    this.lens = l;
    this.flagsArr = f;
  }
}

/** Sequential copy out of the device-readable part of a chain. */
export class ChainReader {
  private desc = 0;
  private offset = 0;
  private _consumed = 0;

  constructor(private readonly chain: DescriptorChain) {}

  /** Go back to the first readable byte. */
  rewind(): void {
    this.desc = 0;
    this.offset = 0;
    this._consumed = 0;
  }
  /** Bytes read or skipped so far. */
  get consumed(): number {
    return this._consumed;
  }
  /** Readable bytes left. */
  get remaining(): number {
    return this.chain.readableBytes - this._consumed;
  }
  /**
   * Guest address of the next readable byte (0 when none is left): where a device copying the
   * rest out places it, to keep the copy co-aligned (@vbus/core's `FrameCopy`).
   */
  get address(): number {
    const c = this.chain;
    let d = this.desc;
    let off = this.offset;
    while (d < c.readableCount && off >= c.len(d)) {
      d++;
      off = 0;
    }
    return d < c.readableCount ? c.addr(d) + off : 0;
  }

  /**
   * Copy up to `length` bytes into `into` at `start`; returns the number copied (less than asked
   * only at the end of the readable part).
   */
  read(into: Uint8Array, start = 0, length = into.length - start): number {
    return this.walk(length, into, start);
  }

  /** Skip up to `n` bytes; returns the number skipped. */
  skip(n: number): number {
    return this.walk(n, null, 0);
  }

  /** Copy everything that is left into a new array. */
  readAll(): Uint8Array {
    const out = new Uint8Array(this.remaining);
    this.read(out);
    return out;
  }

  private walk(n: number, into: Uint8Array | null, start: number): number {
    const c = this.chain;
    const mem = c.memory!;
    let done = 0;
    while (done < n && this.desc < c.readableCount) {
      const len = c.len(this.desc);
      const avail = len - this.offset;
      if (avail <= 0) {
        this.desc++;
        this.offset = 0;
        continue;
      }
      const k = Math.min(avail, n - done);
      if (into !== null) mem.copyOut(c.addr(this.desc) + this.offset, into, start + done, k);
      done += k;
      this.offset += k;
    }
    this._consumed += done;
    return done;
  }
}

/** Sequential copy into the device-writable part of a chain. */
export class ChainWriter {
  private desc = 0;
  private offset = 0;
  private _written = 0;

  constructor(private readonly chain: DescriptorChain) {}

  /** Go back to the first writable byte. */
  rewind(): void {
    this.desc = this.chain.readableCount;
    this.offset = 0;
    this._written = 0;
  }
  /** Bytes written or skipped so far: the `len` to give to `addUsed`. */
  get written(): number {
    return this._written;
  }
  /** Writable bytes left. */
  get remaining(): number {
    return this.chain.writableBytes - this._written;
  }

  /**
   * Copy `bytes[start, start+length)` into the chain; returns the number copied (less than asked
   * only when the writable part is full).
   */
  write(bytes: Uint8Array, start = 0, length = bytes.length - start): number {
    return this.walk(length, bytes, start);
  }

  /** Skip up to `n` writable bytes (they count as written, e.g. a header filled in later). */
  skip(n: number): number {
    return this.walk(n, null, 0);
  }

  private walk(n: number, from: Uint8Array | null, start: number): number {
    const c = this.chain;
    const mem = c.memory!;
    let done = 0;
    while (done < n && this.desc < c.length) {
      const len = c.len(this.desc);
      const room = len - this.offset;
      if (room <= 0) {
        this.desc++;
        this.offset = 0;
        continue;
      }
      const k = Math.min(room, n - done);
      if (from !== null) mem.copyIn(c.addr(this.desc) + this.offset, from, start + done, k);
      done += k;
      this.offset += k;
    }
    this._written += done;
    return done;
  }
}
