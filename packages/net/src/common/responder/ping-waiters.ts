/**
 * The responder's outstanding pings: each waits for the echo reply with its id and seq (and data
 * size), or times out on the responder's scheduler. Round trips are read on the responder's clock.
 */
import type { Cancel, Clock, Scheduler } from '@vbus/core';
import { NetError } from '../backend/net-error.js';
import type { PingReply } from './responder-types.js';

interface PendingPing {
  resolve: (reply: PingReply) => void;
  reject: (e: Error) => void;
  cancel: Cancel | undefined;
  sentAt: number;
  size: number;
}

/** The key of a ping: id and seq (16 bits each). */
export function pingKey(id: number, seq: number): number {
  return id * 0x10000 + seq;
}

export class PingWaiters {
  private readonly pings = new Map<number, PendingPing>();

  constructor(
    private readonly name: string,
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  has(key: number): boolean {
    return this.pings.has(key);
  }

  /**
   * Wait for the reply to a ping about to be sent: `send` sends it and says whether the frame
   * left; if not, the wait ends at once with NetError 'tx-refused'.
   */
  wait(key: number, ip: string, size: number, send: () => boolean): Promise<PingReply> {
    return new Promise<PingReply>((resolve, reject) => {
      const p: PendingPing = { resolve, reject, cancel: undefined, sentAt: this.clock.now(), size };
      this.pings.set(key, p);
      if (this.timeoutMs > 0) {
        p.cancel = this.scheduler.after(this.timeoutMs, () => {
          if (this.pings.get(key) !== p) return;
          this.pings.delete(key);
          reject(new NetError(this.name, 'timeout', ip, `no echo reply from ${ip} (id ${key >>> 16}, seq ${key & 0xffff}) within ${this.timeoutMs} ms`));
        });
      }
      if (!send()) {
        this.pings.delete(key);
        p.cancel?.();
        reject(new NetError(this.name, 'tx-refused', ip, 'the echo request could not be sent'));
      }
    });
  }

  /** Round trip in ms of the ping `key` if one waits, else 0. */
  rtt(key: number): number {
    const p = this.pings.get(key);
    return p ? this.clock.now() - p.sentAt : 0;
  }

  /** An echo reply arrived: the ping with this key and data size (if any) is answered. */
  answer(key: number, reply: PingReply): void {
    const p = this.pings.get(key);
    if (!p || p.size !== reply.size) return;
    this.pings.delete(key);
    p.cancel?.();
    p.resolve(reply);
  }

  /** Reject every waiting ping with `err` and cancel its timeout. */
  close(err: Error): void {
    for (const p of this.pings.values()) {
      p.cancel?.();
      p.reject(err);
    }
    this.pings.clear();
  }
}
