import type { GuestAllocator, GuestConnection } from '@vbus/core';
import { BLOCK_S_OK, BLOCK_T_READ, BLOCK_T_WRITE } from './block-abi.js';
import { BlockDriver } from './block-driver.js';

/** One closed-loop run of the block bench, as the guest measured it. */
export interface BlockLoadResult {
  requests: number;
  seconds: number;
  iops: number;
  /** Kicks that crossed to the device / were suppressed. */
  kicks: number;
  kicksSuppressed: number;
  /** Completion signals the guest took (wakeups of its ring's signal). */
  interrupts: number;
  errors: number;
}

/** Options of {@link runBlockLoad}. */
export interface BlockLoadOptions {
  /** Requests in flight. */
  depth: number;
  /** Requests to complete. */
  requests: number;
  /** Sectors per request (8: 4 KiB). */
  sectors: number;
  op: 'read' | 'write';
  /** true: submit with `more` and kick once per batch; false: kick on every request. */
  batching: boolean;
  /** Sectors on the disk (random offsets are drawn below it). */
  diskSectors: number;
}

/**
 * A closed loop: keep `depth` requests of `sectors` sectors in flight at pseudo-random aligned
 * offsets, resubmitting from the completion, until `requests` completed. The same code runs on
 * the in-process connector and in a worker guest.
 */
export async function runBlockLoad(conn: GuestConnection, allocator: GuestAllocator, o: BlockLoadOptions): Promise<BlockLoadResult> {
  const d = await BlockDriver.open(conn, allocator, { ringSize: Math.max(o.depth, 8) });
  const bytes = o.sectors * 512;
  const buffers = Array.from({ length: o.depth }, () => allocator.alloc(bytes, 4096));
  const type = o.op === 'read' ? BLOCK_T_READ : BLOCK_T_WRITE;
  const slots = Math.floor(o.diskSectors / o.sectors);
  let seed = 0x9e3779b9;
  const nextSector = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % slots) * o.sectors;
  };
  let submitted = 0;
  let completed = 0;
  let errors = 0;
  const more = o.batching;
  d.onComplete = (tag, status) => {
    completed++;
    if (status !== BLOCK_S_OK) errors++;
    if (submitted < o.requests) {
      submitted++;
      d.submit(type, nextSector(), o.sectors, buffers[tag]!, tag, more);
    }
  };
  const t0 = performance.now();
  for (let i = 0; i < o.depth && submitted < o.requests; i++) {
    submitted++;
    d.submit(type, nextSector(), o.sectors, buffers[i]!, i, more && i < o.depth - 1);
  }
  await new Promise<void>((resolve, reject) => {
    const tick = () => (completed >= o.requests ? resolve() : conn.closed ? reject(new Error('connection closed')) : setImmediate(tick));
    tick();
  });
  const seconds = (performance.now() - t0) / 1000;
  const s = d.ring.signalCounters;
  return { requests: completed, seconds, iops: completed / seconds, kicks: s.injected, kicksSuppressed: s.suppressed, interrupts: s.wakeups, errors };
}
