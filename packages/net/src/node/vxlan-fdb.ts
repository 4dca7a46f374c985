import type { Clock } from '@vbus/core';
import { formatMac, isGroupMac, macToNumber } from '../common/packet/index.js';
import type { VxlanCounters } from './vxlan-counters.js';

/** One learned inner address. */
export interface VxlanFdbEntry {
  mac: string;
  /** The remote VTEP behind which it lives, `host:port`. */
  remote: string;
  /** ms since it was last seen as a source. */
  ageMs: number;
}

/** The forwarding table's counters, part of {@link VxlanCounters}. */
export type VxlanFdbCounters = Pick<VxlanCounters, 'learned' | 'moved' | 'expired' | 'tableFull'>;

interface FdbEntry<R> {
  remote: R;
  lastSeen: number;
}

/**
 * A VTEP's forwarding table: which remote VTEP each inner source MAC was last seen behind.
 * Entries age out lazily (on lookup, or when the table is full) after `ageMs` of the injected
 * clock; a full table learns nothing more (`tableFull`) and the backend floods instead.
 */
export class VxlanFdb<R extends { readonly key: string }> {
  private readonly table = new Map<number, FdbEntry<R>>();

  constructor(
    private readonly counters: VxlanFdbCounters,
    private readonly clock: Clock,
    private readonly ageMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The learned table (expired entries left out). */
  entries(): VxlanFdbEntry[] {
    const t = this.clock.now();
    const out: VxlanFdbEntry[] = [];
    for (const [mac, e] of this.table) {
      if (t - e.lastSeen > this.ageMs) continue;
      const b = new Uint8Array(6);
      for (let i = 5, v = mac; i >= 0; i--, v = Math.floor(v / 256)) b[i] = v % 256;
      out.push({ mac: formatMac(b), remote: e.remote.key, ageMs: t - e.lastSeen });
    }
    return out;
  }

  /** The remote the MAC `key` (see macToNumber) was learned behind, unless expired (then it is dropped). */
  find(key: number): R | undefined {
    return this.findEntry(key)?.remote;
  }

  /** A frame (at least an Ethernet header) came from `remote`: learn or refresh its source MAC. */
  learn(frame: Uint8Array, remote: R): void {
    if (isGroupMac(frame, 6)) return;
    const key = macToNumber(frame, 6);
    const c = this.counters;
    const e = this.findEntry(key);
    if (e !== undefined) {
      if (e.remote !== remote) {
        e.remote = remote;
        c.moved++;
      }
      e.lastSeen = this.clock.now();
      return;
    }
    if (this.table.size >= this.maxEntries) {
      this.purgeExpired();
      if (this.table.size >= this.maxEntries) {
        c.tableFull++;
        return;
      }
    }
    this.table.set(key, { remote, lastSeen: this.clock.now() });
    c.learned++;
  }

  private findEntry(key: number): FdbEntry<R> | undefined {
    const e = this.table.get(key);
    if (e === undefined) return undefined;
    if (this.clock.now() - e.lastSeen > this.ageMs) {
      this.table.delete(key);
      this.counters.expired++;
      return undefined;
    }
    return e;
  }

  private purgeExpired(): void {
    const t = this.clock.now();
    for (const [k, e] of this.table) {
      if (t - e.lastSeen > this.ageMs) {
        this.table.delete(k);
        this.counters.expired++;
      }
    }
  }
}
