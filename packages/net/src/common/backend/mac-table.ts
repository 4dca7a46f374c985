/**
 * The learning switch's address table: MAC (as a number) to port, with aging, a size cap, a
 * per-port cap and expiry whose work per frame is bounded. Kept apart from the forwarding code
 * so the rules a hostile port meets are in one place:
 *
 * - A port learns at most `maxPerPort` addresses (an uplink flooding random source MACs fills its
 *   own share, not the table); beyond it new addresses from that port are not learned (frames
 *   still flood, as a full bridge does) and `portLimit` counts them.
 * - When the table is full, a new source costs at most {@link SWEEP_BUDGET} visits: the oldest
 *   entries in insertion order are checked, expired ones removed, live ones moved to the back
 *   (second chance, as CLOCK does). Map insertion order makes each visit O(1), so expiry is
 *   amortised O(1) per frame instead of a full-table scan.
 */

/** What the table needs of a port. */
export interface MacTablePort {
  /** Addresses currently learned on this port (maintained by the table). */
  learned: number;
}

/** One learned address. */
export interface MacTableEntryOf<P> {
  port: P;
  lastSeen: number;
}

/** The counters the table updates (a subset of SwitchStats). */
export interface MacTableStats {
  learned: number;
  moved: number;
  expired: number;
  tableFull: number;
  portLimit: number;
}

/** Entries visited at most per new source address while the table is full. */
export const SWEEP_BUDGET = 8;

export class MacTable<P extends MacTablePort> {
  private readonly map = new Map<number, MacTableEntryOf<P>>();
  /**
   * Bumped whenever an entry leaves the table or changes port: an entry object held since a
   * version is still the table's entry for its key, on the same port, while the version is the same.
   */
  version = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxPerPort: number,
    private readonly ageMs: number,
    private readonly stats: MacTableStats,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The live entry for `key`, removing it if it has aged out. */
  find(key: number, now: number): MacTableEntryOf<P> | undefined {
    const e = this.map.get(key);
    if (e !== undefined && now - e.lastSeen > this.ageMs) {
      this.remove(key, e);
      this.stats.expired++;
      return undefined;
    }
    return e;
  }

  /** `port` sent from `key` at `now`: refresh, move or learn it, within the caps. Returns the entry, if `key` is learned on `port` now. */
  learn(port: P, key: number, now: number): MacTableEntryOf<P> | undefined {
    const e = this.map.get(key);
    if (e !== undefined) {
      if (e.port !== port) {
        if (port.learned >= this.maxPerPort) {
          // the new port has no room: forget the old location rather than keep a wrong one
          this.remove(key, e);
          this.stats.portLimit++;
          return undefined;
        }
        e.port.learned--;
        port.learned++;
        e.port = port;
        this.version++;
        this.stats.moved++;
      }
      e.lastSeen = now;
      return e;
    }
    if (port.learned >= this.maxPerPort) {
      this.stats.portLimit++;
      return undefined;
    }
    if (this.map.size >= this.maxEntries) {
      this.sweep(now);
      if (this.map.size >= this.maxEntries) {
        this.stats.tableFull++;
        return undefined;
      }
    }
    const entry = { port, lastSeen: now };
    this.map.set(key, entry);
    port.learned++;
    this.stats.learned++;
    return entry;
  }

  /** Forget every address of `port` (it was detached). Not a per-frame path. */
  removePort(port: P): void {
    for (const [key, e] of this.map) if (e.port === port) this.remove(key, e);
  }

  clear(): void {
    for (const e of this.map.values()) e.port.learned = 0;
    this.map.clear();
    this.version++;
  }

  /** Every entry with its key (for introspection). */
  all(): IterableIterator<[number, MacTableEntryOf<P>]> {
    return this.map.entries();
  }

  /** Visit up to SWEEP_BUDGET of the oldest entries: drop the expired, give the live a second chance. */
  private sweep(now: number): void {
    let n = 0;
    this.version++;
    for (const [key, e] of this.map) {
      if (n++ >= SWEEP_BUDGET) break;
      this.map.delete(key);
      if (now - e.lastSeen > this.ageMs) {
        e.port.learned--;
        this.stats.expired++;
      } else this.map.set(key, e);
    }
  }

  private remove(key: number, e: MacTableEntryOf<P>): void {
    this.map.delete(key);
    this.version++;
    e.port.learned--;
  }
}
