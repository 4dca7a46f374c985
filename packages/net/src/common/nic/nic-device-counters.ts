// Per-device NIC totals from a bus's introspection: what the CLI demo and the browser example print.

/** One NIC device's counters, summed over its queues (rx/tx for venet, rx0/tx0/... for virtio-net). */
export interface NicDeviceCounters {
  /** Frames the guest transmitted through the device. */
  txFrames: number;
  /** Frames the device delivered to the guest. */
  rxFrames: number;
  /** Frames the device dropped (rx ring full, tx refused by the backend). */
  drops: number;
  /** The rx share of `drops`. */
  rxDrops: number;
  /** Guest-to-device notifications that crossed. */
  kicks: number;
  /** Device-to-guest notifications that crossed. */
  interrupts: number;
  /** Notifications either way that the shared-memory signal made unnecessary. */
  suppressed: number;
}

/**
 * The counters of every device of a bus snapshot (`bus.introspect()`), by device name. Queues are
 * the device's object-valued counters whose names start with rx or tx; event and control queues
 * carry no frames but their signals count.
 */
export function nicDeviceCounters(snapshot: { readonly devices: ReadonlyArray<{ readonly name: string; readonly counters: unknown }> }): Record<string, NicDeviceCounters> {
  const out: Record<string, NicDeviceCounters> = {};
  for (const d of snapshot.devices) {
    const queues = Object.entries((d.counters ?? {}) as Record<string, unknown>).filter((e): e is [string, Record<string, number>] => typeof e[1] === 'object' && e[1] !== null);
    const sum = (k: string, prefix = ''): number => queues.filter(([n]) => n.startsWith(prefix)).reduce((s, [, q]) => s + (q[k] ?? 0), 0);
    out[d.name] = {
      txFrames: sum('frames', 'tx'),
      rxFrames: sum('frames', 'rx'),
      drops: sum('drops', 'rx') + sum('drops', 'tx'),
      rxDrops: sum('drops', 'rx'),
      kicks: sum('kicks'),
      interrupts: sum('interrupts'),
      suppressed: sum('suppressed'),
    };
  }
  return out;
}

/** `after - before`, field by field (the counters moved between two readings). */
export function diffNicDeviceCounters(after: NicDeviceCounters, before: NicDeviceCounters): NicDeviceCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as Array<keyof NicDeviceCounters>) out[k] = after[k] - before[k];
  return out;
}
