import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { GuestMemory } from '@vbus/core';
import { BLOCK_SECTOR_SIZE } from './block-abi.js';
import type { BlockBackend } from './backend.js';

/** Zeros written by discard, one chunk at a time. */
const ZERO_CHUNK = new Uint8Array(64 * 1024);

/**
 * Sectors in a file (Node only): pread/pwrite at `sector * 512`, flush is fdatasync. The file is
 * created if missing and sized to `sectors` (grown or truncated); without `sectors`, an existing
 * file's size decides (it must be a whole number of sectors). Node has no hole punching, so a
 * discard writes zeros.
 */
export class FileBlockBackend implements BlockBackend {
  readonly sectors: number;
  readonly description: string;
  private fd: number;

  constructor(
    readonly path: string,
    options: { sectors?: number; readOnly?: boolean } = {},
  ) {
    this.fd = openSync(path, options.readOnly ? 'r' : options.sectors === undefined ? 'r+' : 'a+');
    if (!options.readOnly && options.sectors !== undefined) {
      // 'a+' created the file if needed; reopen without O_APPEND so pwrite honours its offset
      closeSync(this.fd);
      this.fd = openSync(path, 'r+');
      ftruncateSync(this.fd, options.sectors * BLOCK_SECTOR_SIZE);
    }
    const size = fstatSync(this.fd).size;
    if (size === 0 || size % BLOCK_SECTOR_SIZE !== 0) {
      closeSync(this.fd);
      throw new RangeError(`${path}: ${size} bytes is not a positive whole number of ${BLOCK_SECTOR_SIZE}-byte sectors`);
    }
    this.sectors = size / BLOCK_SECTOR_SIZE;
    this.description = `file:${path}`;
  }

  /** Staging buffer between the file and guest memory, grown to the largest request seen. */
  private scratch = new Uint8Array(64 * 1024);

  private staging(bytes: number): Uint8Array {
    if (this.scratch.length < bytes) this.scratch = new Uint8Array(bytes);
    return this.scratch;
  }

  read(sector: number, count: number, memory: GuestMemory, address: number): void {
    const bytes = count * BLOCK_SECTOR_SIZE;
    const buf = this.staging(bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(this.fd, buf, done, bytes - done, sector * BLOCK_SECTOR_SIZE + done);
      if (n === 0) throw new Error(`${this.path}: short read at sector ${sector}`);
      done += n;
    }
    memory.copyIn(address, buf, 0, bytes);
  }

  write(sector: number, count: number, memory: GuestMemory, address: number): void {
    const bytes = count * BLOCK_SECTOR_SIZE;
    const buf = this.staging(bytes);
    memory.copyOut(address, buf, 0, bytes);
    let done = 0;
    while (done < bytes) done += writeSync(this.fd, buf, done, bytes - done, sector * BLOCK_SECTOR_SIZE + done);
  }

  flush(): void {
    fdatasyncSync(this.fd);
  }

  discard(sector: number, count: number): void {
    let at = sector * BLOCK_SECTOR_SIZE;
    const end = (sector + count) * BLOCK_SECTOR_SIZE;
    while (at < end) {
      const n = Math.min(ZERO_CHUNK.length, end - at);
      at += writeSync(this.fd, ZERO_CHUNK, 0, n, at);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
