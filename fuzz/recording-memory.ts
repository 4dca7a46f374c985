/**
 * A GuestMemory that records every access the host makes and checks it on its own, against a
 * list of regions fixed when the guest connected: each successful view/read/write/int32 must lie
 * inside one of those regions. RegionMemory already refuses out-of-range accesses; this wrapper
 * is the independent witness the fuzz oracle uses (and it also catches a device that keeps a
 * view of a region the guest has since unregistered, or any memory type that forgets a check).
 */
import type { GuestMemory, MemoryRegion, RegionMemory } from '@vbus/core';

export interface AccessRecord {
  op: 'view' | 'read' | 'write' | 'int32' | 'contains' | 'copyOut' | 'copyIn' | 'copyWithin';
  address: number;
  length: number;
}

export class RecordingMemory implements GuestMemory {
  /** Successful accesses (contains() is not an access). */
  accesses = 0;
  /** Accesses the inner memory refused (it threw): a device probed outside and was stopped. */
  refused = 0;
  /** Successful accesses that lie outside every allowed region: must stay empty. */
  readonly violations: AccessRecord[] = [];
  /** Last few accesses, for failure reports. */
  readonly recent: AccessRecord[] = [];
  private readonly allowed: Array<{ address: number; length: number }>;

  constructor(
    readonly inner: RegionMemory,
    allowed?: ReadonlyArray<{ address: number; length: number }>,
  ) {
    this.allowed = (allowed ?? inner.regions()).map((r) => ({ address: r.address, length: r.length }));
  }

  /** True if `[address, address+length)` lies inside one allowed region. */
  inside(address: number, length: number): boolean {
    if (!Number.isSafeInteger(address) || !Number.isSafeInteger(length) || address < 0 || length < 0) return false;
    return this.allowed.some((r) => address >= r.address && address + length <= r.address + r.length);
  }

  private record(op: AccessRecord['op'], address: number, length: number, run: () => void): void {
    try {
      run();
    } catch (e) {
      this.refused++;
      throw e;
    }
    this.accesses++;
    const rec = { op, address, length };
    if (this.recent.length >= 16) this.recent.shift();
    this.recent.push(rec);
    if (!this.inside(address, length)) this.violations.push(rec);
  }

  view(address: number, length: number): Uint8Array {
    let out!: Uint8Array;
    this.record('view', address, length, () => {
      out = this.inner.view(address, length);
      if (out.length !== length) throw new Error(`view returned ${out.length} bytes for ${length}`);
    });
    return out;
  }
  contains(address: number, length: number): boolean {
    const ok = this.inner.contains(address, length);
    // contains() must agree with the allowed list (it is what devices check before a view)
    if (ok && !this.inside(address, length)) this.violations.push({ op: 'contains', address, length });
    return ok;
  }
  read(address: number, length: number): Uint8Array {
    let out!: Uint8Array;
    this.record('read', address, length, () => {
      out = this.inner.read(address, length);
    });
    return out;
  }
  write(address: number, bytes: Uint8Array): void {
    this.record('write', address, bytes.length, () => this.inner.write(address, bytes));
  }
  copyOut(address: number, target: Uint8Array, targetOffset: number, length: number): void {
    this.record('copyOut', address, length, () => this.inner.copyOut(address, target, targetOffset, length));
  }
  copyIn(address: number, source: Uint8Array, sourceOffset: number, length: number): void {
    this.record('copyIn', address, length, () => this.inner.copyIn(address, source, sourceOffset, length));
  }
  copyWithin(dst: number, src: number, length: number): void {
    // two accesses: the source range and the destination range, each checked on its own
    this.record('copyWithin', src, length, () => this.inner.copyWithin(dst, src, length));
    if (length > 0 && !this.inside(dst, length)) this.violations.push({ op: 'copyWithin', address: dst, length });
  }
  int32(address: number, count: number): Int32Array {
    let out!: Int32Array;
    this.record('int32', address, count * 4, () => {
      out = this.inner.int32(address, count);
    });
    return out;
  }
  regions(): readonly MemoryRegion[] {
    return this.inner.regions();
  }
}
