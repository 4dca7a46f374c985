/**
 * ARP resolution for the responder: answers from the cache, or sends a request, retries it (3
 * tries spread over the timeout) and wakes every caller waiting for that address when the reply
 * is learned. Retries run on the responder's scheduler, so they happen in the embedder's time.
 */
import type { Cancel, Scheduler } from '@vbus/core';
import { NetError } from '../backend/net-error.js';
import type { ArpCache } from './arp-cache.js';

/** Requests sent per resolution before it fails. */
export const ARP_TRIES = 3;

interface Resolution {
  waiters: Array<{ resolve: (mac: Uint8Array) => void; reject: (e: Error) => void }>;
  /** Cancels the armed retry. */
  cancel: Cancel | undefined;
}

export class ArpResolver {
  private readonly pending = new Map<string, Resolution>();

  constructor(
    private readonly name: string,
    readonly cache: ArpCache,
    private readonly scheduler: Scheduler,
    private readonly timeoutMs: number,
    /** Send one ARP request for `ip` (4 bytes). */
    private readonly request: (ip: Uint8Array) => void,
  ) {}

  /** The MAC of `ip` (text; `target` the same as 4 bytes), from the cache or by ARP. Rejects with NetError 'timeout'. */
  resolve(ip: string, target: Uint8Array): Promise<Uint8Array> {
    const cached = this.cache.get(ip);
    if (cached) return Promise.resolve(Uint8Array.from(cached));
    return new Promise<Uint8Array>((resolve, reject) => {
      const known = this.pending.get(ip);
      if (known) {
        known.waiters.push({ resolve, reject });
        return;
      }
      const r: Resolution = { waiters: [{ resolve, reject }], cancel: undefined };
      this.pending.set(ip, r);
      let tries = 0;
      const attempt = (): void => {
        r.cancel = undefined;
        if (this.pending.get(ip) !== r) return;
        if (tries === ARP_TRIES) {
          this.pending.delete(ip);
          const err = new NetError(this.name, 'timeout', ip, `no ARP reply from ${ip} within ${this.timeoutMs} ms`);
          for (const w of r.waiters) w.reject(err);
          return;
        }
        tries++;
        this.request(target);
        if (this.timeoutMs > 0) r.cancel = this.scheduler.after(this.timeoutMs / ARP_TRIES, attempt);
      };
      attempt();
    });
  }

  /** A binding was learned (already in the cache): wake whoever waits for it. */
  learned(ip: string, mac: Uint8Array): void {
    const r = this.pending.get(ip);
    if (!r) return;
    this.pending.delete(ip);
    r.cancel?.();
    for (const w of r.waiters) w.resolve(Uint8Array.from(mac));
  }

  /** Reject every waiting resolution with `err` and cancel its retry. */
  close(err: Error): void {
    for (const r of this.pending.values()) {
      r.cancel?.();
      for (const w of r.waiters) w.reject(err);
    }
    this.pending.clear();
  }
}
