import { describe, expect, it } from 'vitest';
import { NapiPoll, PollBatch, type NapiQueue } from './napi.js';

/** A fake rx queue: `pending` frames waiting, interrupts masked or not, defers run by hand. */
function fakeQueue(pending: number) {
  const log: string[] = [];
  const deferred: Array<() => void> = [];
  type FakeQueue = NapiQueue & { pending: number; masked: boolean; closed: boolean; arriveWhileUnmasking: number; receive: (budget: number) => number };
  const q: FakeQueue = {
    pending,
    masked: false,
    closed: false,
    arriveWhileUnmasking: 0,
    mask: () => {
      q.masked = true;
      log.push('mask');
    },
    unmask: () => {
      q.masked = false;
      log.push('unmask');
      q.pending += q.arriveWhileUnmasking;
      const more: boolean = q.arriveWhileUnmasking > 0;
      q.arriveWhileUnmasking = 0;
      return more;
    },
    receive: (budget: number) => {
      const n = Math.min(budget, q.pending);
      q.pending -= n;
      log.push(`receive ${n}`);
      return n;
    },
    refill: () => log.push('refill'),
    defer: (fn: () => void) => {
      deferred.push(fn);
      log.push('defer');
    },
  };
  const runDeferred = () => {
    while (deferred.length) deferred.shift()!();
  };
  return { q, log, runDeferred };
}

/** A loop with its receiver attached (loops start held). */
function released(napi: NapiPoll): NapiPoll {
  napi.release();
  return napi;
}

describe('NapiPoll', () => {
  it('held until release: an interrupt only masks, frames stay; release polls them on the next turn', () => {
    const { q, log, runDeferred } = fakeQueue(5);
    const napi = new NapiPoll(q, 64, new PollBatch(() => {}), 'inline');
    napi.interrupt();
    runDeferred();
    expect(q.pending).toBe(5);
    expect(log).toEqual(['mask']);
    napi.release();
    expect(log).toEqual(['mask', 'defer']);
    runDeferred();
    expect(q.pending).toBe(0);
    expect(log).toEqual(['mask', 'defer', 'receive 5', 'refill', 'unmask']);
    napi.release(); // once only
    expect(log.length).toBe(5);
  });

  it('a release with no interrupt meanwhile polls nothing; the next interrupt polls as usual', () => {
    const { q, log } = fakeQueue(2);
    const napi = new NapiPoll(q, 64, new PollBatch(() => {}), 'inline');
    napi.release();
    expect(log).toEqual([]);
    napi.interrupt();
    expect(log).toEqual(['mask', 'receive 2', 'refill', 'unmask']);
  });

  it('inline: one interrupt drains a burst in weight-sized polls, then unmasks once', () => {
    const { q, log, runDeferred } = fakeQueue(10);
    const napi = released(new NapiPoll(q, 4, new PollBatch(() => {}), 'inline'));
    napi.interrupt();
    runDeferred();
    expect(q.pending).toBe(0);
    expect(log).toEqual(['mask', 'receive 4', 'refill', 'defer', 'receive 4', 'refill', 'defer', 'receive 2', 'refill', 'unmask']);
  });

  it('deferred: the first poll waits for the next turn; an interrupt during a poll adds none', () => {
    const { q, log, runDeferred } = fakeQueue(3);
    const napi = released(new NapiPoll(q, 64, new PollBatch(() => {}), 'deferred'));
    napi.interrupt();
    napi.interrupt();
    expect(log).toEqual(['mask', 'defer', 'mask']);
    runDeferred();
    expect(log.slice(3)).toEqual(['receive 3', 'refill', 'unmask']);
  });

  it('frames that arrive while unmasking are polled again (no interrupt will come for them)', () => {
    const { q, log, runDeferred } = fakeQueue(1);
    q.arriveWhileUnmasking = 2;
    const napi = released(new NapiPoll(q, 64, new PollBatch(() => {}), 'inline'));
    napi.interrupt();
    runDeferred();
    expect(q.pending).toBe(0);
    expect(log).toEqual(['mask', 'receive 1', 'refill', 'unmask', 'mask', 'defer', 'receive 2', 'refill', 'unmask']);
  });

  it('sends made during a poll kick once when it ends; outside a poll they kick themselves', () => {
    let kicks = 0;
    const batch = new PollBatch(() => kicks++);
    const { q } = fakeQueue(5);
    q.receive = (budget: number) => {
      const n = Math.min(budget, q.pending);
      q.pending -= n;
      for (let i = 0; i < n; i++) expect(batch.deferKick()).toBe(true); // each frame answered
      return n;
    };
    released(new NapiPoll(q, 64, batch, 'inline')).interrupt();
    expect(kicks).toBe(1);
    expect(batch.deferKick()).toBe(false);
  });

  it('a closed connection stops the loop', () => {
    const { q, log, runDeferred } = fakeQueue(100);
    const napi = released(new NapiPoll(q, 4, new PollBatch(() => {}), 'inline'));
    napi.interrupt();
    q.closed = true;
    runDeferred();
    expect(log).toEqual(['mask', 'receive 4', 'refill', 'defer']); // the deferred turn finds it closed and stops
  });

  it('with pollTurns, a drained poll keeps interrupts masked and polls once per turn until that many polls in a row found nothing', () => {
    const { q, log } = fakeQueue(5);
    // one turn of the loop runs what was deferred before it, not what it defers itself
    const queued: Array<() => void> = [];
    q.defer = (fn) => {
      queued.push(fn);
      log.push('defer');
    };
    const turn = () => {
      const before = log.length;
      for (const fn of queued.splice(0, queued.length)) fn();
      return log.slice(before);
    };
    const napi = released(new NapiPoll(q, 64, new PollBatch(() => {}), 'inline', 3));
    napi.interrupt();
    expect(log).toEqual(['mask', 'receive 5', 'refill', 'defer']); // drained, not unmasked
    expect(turn()).toEqual(['receive 0', 'refill', 'defer']); // empty poll 1 of 3
    q.pending = 2; // the device delivers while the driver polls: no interrupt needed
    expect(turn()).toEqual(['receive 2', 'refill', 'defer']); // found: the count starts over
    expect(turn()).toEqual(['receive 0', 'refill', 'defer']);
    expect(turn()).toEqual(['receive 0', 'refill', 'defer']);
    expect(q.masked).toBe(true);
    expect(turn()).toEqual(['receive 0', 'refill', 'unmask']); // the third empty poll in a row
    expect(q.masked).toBe(false);
    expect(turn()).toEqual([]); // nothing left scheduled
    // idle: the next interrupt polls again at once
    q.pending = 1;
    napi.interrupt();
    expect(q.pending).toBe(0);
  });
});
