/**
 * The responder's ARP cache: bounded and aged, so that a neighbour sending ARP from many
 * addresses cannot grow it without limit and a stale binding does not live forever. Map
 * insertion order is least-recently-refreshed first: a refresh moves the entry to the back, and
 * a full cache drops its front entry (O(1), no scan).
 */
import type { Clock } from '@vbus/core';

/** Default most entries (Linux's neigh gc_thresh1 is 128, gc_thresh3 1024; one host needs few). */
export const ARP_CACHE_DEFAULT_SIZE = 256;
/** Default age of an entry in ms: Linux's gc_stale_time (60 s). */
export const ARP_CACHE_DEFAULT_AGE_MS = 60_000;

interface ArpEntry {
  mac: Uint8Array;
  seen: number;
}

export class ArpCache {
  private readonly map = new Map<string, ArpEntry>();
  /** Entries dropped to make room, and entries found aged out. */
  evicted = 0;
  expired = 0;

  constructor(
    readonly maxEntries: number,
    readonly ageMs: number,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The MAC for `ip` if known and not aged out. */
  get(ip: string): Uint8Array | undefined {
    const e = this.map.get(ip);
    if (e === undefined) return undefined;
    if (this.clock.now() - e.seen > this.ageMs) {
      this.map.delete(ip);
      this.expired++;
      return undefined;
    }
    return e.mac;
  }

  /** Learn or refresh a binding (the MAC is copied). */
  set(ip: string, mac: Uint8Array): void {
    if (this.maxEntries === 0) return;
    this.map.delete(ip);
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.evicted++;
    }
    this.map.set(ip, { mac: Uint8Array.from(mac), seen: this.clock.now() });
  }

  /** The live entries, oldest first. */
  *entries(): IterableIterator<[string, Uint8Array]> {
    const now = this.clock.now();
    for (const [ip, e] of this.map) if (now - e.seen <= this.ageMs) yield [ip, e.mac];
  }
}
