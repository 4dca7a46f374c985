/**
 * The front end's memory table (SET_MEM_TABLE): regions of guest memory, each mapped from an fd,
 * at a guest physical address and at an address in the front end's own address space. Checked
 * whole before anything changes; ring addresses arrive in front-end addresses and are translated
 * through it.
 */
import type { RegionMemory } from '@vbus/core';
import { VhostUserError, type VhostUserMemoryRegion } from './protocol.js';
import type { VhostPlatform } from './platform.js';

/** One SharedArrayBuffer per region mapping: the typed-array limit. */
const MAPPING_LIMIT = 2 ** 32;

/** The memory table in force and its translation from front-end addresses to guest addresses. */
export class MemoryTable {
  private table: VhostUserMemoryRegion[] = [];

  /** True once a table was accepted (and not cleared since). */
  get loaded(): boolean {
    return this.table.length > 0;
  }

  /**
   * Check `regions` (sizes, 2^53 bounds, the 4 GiB mapping limit, overlaps in both address
   * spaces) and map each from its fd; throws {@link VhostUserError} and changes nothing if any
   * fails. Returns the mappings, in order; {@link install} puts them in force.
   */
  check(request: number, regions: readonly VhostUserMemoryRegion[], fds: readonly number[], platform: VhostPlatform): SharedArrayBuffer[] {
    if (fds.length !== regions.length) throw new VhostUserError(request, `${regions.length} regions need ${regions.length} fds, got ${fds.length}`);
    regions.forEach((r, i) => {
      const where = `region ${i} (guest 0x${r.guestAddress.toString(16)}, size 0x${r.size.toString(16)}, user 0x${r.userAddress.toString(16)}, offset 0x${r.mmapOffset.toString(16)})`;
      if (r.size <= 0) throw new VhostUserError(request, `${where}: size must be positive`);
      if (!Number.isSafeInteger(r.guestAddress + r.size) || !Number.isSafeInteger(r.userAddress + r.size)) throw new VhostUserError(request, `${where}: ends beyond 2^53`);
      if (r.mmapOffset + r.size > MAPPING_LIMIT) throw new VhostUserError(request, `${where}: offset + size exceeds ${MAPPING_LIMIT} bytes (mappings are limited to 4 GiB)`);
      for (let j = 0; j < i; j++) {
        const o = regions[j]!;
        if (r.guestAddress < o.guestAddress + o.size && o.guestAddress < r.guestAddress + r.size)
          throw new VhostUserError(request, `${where}: overlaps region ${j} in guest addresses`);
        if (r.userAddress < o.userAddress + o.size && o.userAddress < r.userAddress + r.size)
          throw new VhostUserError(request, `${where}: overlaps region ${j} in front-end addresses`);
      }
    });
    return regions.map((r, i) => {
      try {
        return platform.map(fds[i]!, r.mmapOffset + r.size);
      } catch (e) {
        throw new VhostUserError(request, `region ${i}: cannot map fd: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  /** Replace the regions of `memory` with the checked table and its mappings. */
  install(memory: RegionMemory, regions: readonly VhostUserMemoryRegion[], mapped: readonly SharedArrayBuffer[]): void {
    this.clear(memory);
    regions.forEach((r, i) => memory.addRegion(r.guestAddress, mapped[i]!, r.mmapOffset, r.size));
    this.table = [...regions];
  }

  /** Drop every region (the mappings go with them). */
  clear(memory: RegionMemory): void {
    for (const r of memory.regions()) memory.removeRegion(r.address);
    this.table = [];
  }

  /** Front-end (user) address → guest physical address; throws naming `what` if no region holds it. */
  translate(request: number, what: string, uva: number): number {
    for (const r of this.table) {
      if (uva >= r.userAddress && uva < r.userAddress + r.size) return r.guestAddress + (uva - r.userAddress);
    }
    throw new VhostUserError(request, `${what} address 0x${uva.toString(16)} is in no region of the memory table`);
  }
}
