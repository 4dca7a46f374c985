import type { GuestMemory } from '@vbus/core';
import { BLOCK_SECTOR_SIZE } from './block-abi.js';

/**
 * Where a block device's sectors live. Calls are synchronous: the device runs requests inside
 * its kick handler, in ring order, and completes each before the next (an IOQ completes in
 * order). A memory backend costs a copy; a file backend's pread/pwrite usually hit the page
 * cache, and its flush (fdatasync) blocks the thread for as long as the disk takes, which is
 * what a flush means.
 */
export interface BlockBackend {
  /** Capacity in sectors of {@link BLOCK_SECTOR_SIZE} bytes. */
  readonly sectors: number;
  /** Short description for introspection (`memory`, `file:/path`). */
  readonly description: string;
  /**
   * Copy `count` sectors from `sector` on into guest memory at `address`. The device checked
   * the sector range and that the buffer lies in guest memory; the copy goes straight into it
   * (no view allocated per request).
   */
  read(sector: number, count: number, memory: GuestMemory, address: number): void;
  /** Copy `count` sectors from guest memory at `address` to `sector` on (checked as for read). */
  write(sector: number, count: number, memory: GuestMemory, address: number): void;
  /** Make completed writes durable. */
  flush(): void;
  /** Forget `count` sectors from `sector` on: they read back as zeros. */
  discard(sector: number, count: number): void;
  /** Release what the backend holds (a file descriptor). */
  close?(): void;
}

/** Sectors in a byte array: a RAM disk, and the backend of tests and benchmarks. */
export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly description = 'memory';
  constructor(readonly sectors: number) {
    if (!Number.isSafeInteger(sectors) || sectors < 1) throw new RangeError(`a memory disk needs at least one sector, got ${sectors}`);
    this.bytes = new Uint8Array(sectors * BLOCK_SECTOR_SIZE);
  }
  read(sector: number, count: number, memory: GuestMemory, address: number): void {
    memory.copyIn(address, this.bytes, sector * BLOCK_SECTOR_SIZE, count * BLOCK_SECTOR_SIZE);
  }
  write(sector: number, count: number, memory: GuestMemory, address: number): void {
    memory.copyOut(address, this.bytes, sector * BLOCK_SECTOR_SIZE, count * BLOCK_SECTOR_SIZE);
  }
  flush(): void {}
  discard(sector: number, count: number): void {
    this.bytes.fill(0, sector * BLOCK_SECTOR_SIZE, (sector + count) * BLOCK_SECTOR_SIZE);
  }
}
