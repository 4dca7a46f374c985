import { describe, expect, it } from 'vitest';
import { MicrotaskScheduler, VirtualTimeScheduler } from './scheduler.js';

describe('VirtualTimeScheduler', () => {
  it('runs events in time order, same-time events in the order scheduled, and only when stepped', () => {
    const vts = new VirtualTimeScheduler({ latencyNs: 100 });
    const log: string[] = [];
    vts.at(300, () => log.push('c@300'));
    vts.schedule(() => log.push('a@100'));
    vts.at(100, () => log.push('b@100'));
    expect(log).toEqual([]);
    expect(vts.pending).toBe(3);
    expect(vts.step()).toBe(true);
    expect(log).toEqual(['a@100']);
    expect(vts.now).toBe(100);
    expect(vts.runUntilIdle()).toBe(2);
    expect(log).toEqual(['a@100', 'b@100', 'c@300']);
    expect(vts.step()).toBe(false);
  });

  it('runUntil runs what is due by then and advances the clock even with nothing due', () => {
    const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
    const log: number[] = [];
    vts.at(500, () => log.push(vts.now));
    vts.at(1500, () => log.push(vts.now));
    expect(vts.runUntil(1000)).toBe(1);
    expect(log).toEqual([500]);
    expect(vts.now).toBe(1000);
    // an event scheduled from now lands latency later
    vts.schedule(() => log.push(vts.now));
    expect(vts.runUntil(5000)).toBe(2);
    expect(log).toEqual([500, 1500, 2000]);
    expect(vts.now).toBe(5000);
    // never back in time
    vts.at(10, () => log.push(vts.now));
    vts.step();
    expect(log.at(-1)).toBe(5000);
  });
});

describe('MicrotaskScheduler', () => {
  it('runs a few tasks as microtasks, before the loop turns, in order', async () => {
    const s = new MicrotaskScheduler();
    const log: string[] = [];
    setImmediate(() => log.push('turn'));
    for (let i = 0; i < 10; i++) s.schedule(() => log.push(`t${i}`));
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([...Array.from({ length: 10 }, (_, i) => `t${i}`), 'turn']);
    expect(s.yields).toBe(0);
  });

  it('a chain that never ends lets the loop turn (a timer fires) and keeps its order', async () => {
    const s = new MicrotaskScheduler({ turnBudgetMs: 1 });
    let fired = false;
    setTimeout(() => (fired = true), 0);
    let n = 0;
    const order: number[] = [];
    // two interleaved chains, each rescheduling itself until the timer fired
    await new Promise<void>((resolve) => {
      const step = (id: number) => () => {
        order.push(id);
        n++;
        if (!fired) s.schedule(step(id));
        else if (id === 1) resolve();
      };
      s.schedule(step(0));
      s.schedule(step(1));
    });
    expect(fired).toBe(true);
    expect(s.yields).toBeGreaterThan(0);
    // FIFO across the yield: the two chains still alternate
    for (let i = 0; i + 1 < order.length; i++) expect(order[i + 1]).toBe(1 - order[i]!);
    expect(n).toBeGreaterThan(MicrotaskScheduler.freeTasks);
  });

  it('refuses a budget that is not a positive number of milliseconds', () => {
    expect(() => new MicrotaskScheduler({ turnBudgetMs: 0 })).toThrow(/turnBudgetMs/);
    expect(() => new MicrotaskScheduler({ turnBudgetMs: Number.NaN })).toThrow(/turnBudgetMs/);
  });
});
