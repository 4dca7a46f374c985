import type { GuestAllocator } from '@vbus/core';
import type { UsedBuffer } from './virtqueue.js';

/**
 * A driver's bookkeeping of the buffers it added, the same for both layouts and kept in the
 * driver's own memory (never read back from the ring, so a device cannot corrupt it): per head
 * index (split) or buffer id (packed) below the queue size, whether it is in flight, its token
 * and its indirect table, if any. Internal to the virtqueue module.
 */
export class InFlightBuffers<T> {
  /** Buffers added and not yet returned. */
  count = 0;
  private readonly outstanding: Uint8Array;
  private readonly tokens: Array<T | undefined>;
  /** Guest address of the indirect table per id; -1: none. */
  private readonly indirectTable: Float64Array;
  private readonly result: UsedBuffer<T> = { token: undefined as T, len: 0, id: 0 };

  constructor(
    size: number,
    /** Where indirect tables were allocated; they are released to it. */
    private readonly allocator: GuestAllocator | undefined,
  ) {
    this.outstanding = new Uint8Array(size);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    this.indirectTable = new Float64Array(size).fill(-1);
  }

  /** Whether `id` is in flight (false for an id not below the queue size). */
  has(id: number): boolean {
    return id < this.outstanding.length && this.outstanding[id] !== 0;
  }

  /** `id` goes in flight with `token`, and `table` (-1: none) as its indirect table. */
  add(id: number, token: T, table: number): void {
    if (table >= 0) this.indirectTable[id] = table;
    this.tokens[id] = token;
    this.outstanding[id] = 1;
    this.count++;
  }

  /** `id` comes back with `len` bytes written: its indirect table is released; the result object is reused by the next call. */
  take(id: number, len: number): UsedBuffer<T> {
    const r = this.result;
    r.len = len;
    r.id = id;
    r.token = this.release(id);
    return r;
  }

  /** `id` comes back: its indirect table is released; returns its token. */
  release(id: number): T {
    const token = this.tokens[id] as T;
    this.tokens[id] = undefined;
    this.outstanding[id] = 0;
    this.count--;
    const table = this.indirectTable[id]!;
    if (table >= 0) {
      this.allocator!.release(table);
      this.indirectTable[id] = -1;
    }
    return token;
  }
}
