import { describe, expect, it } from 'vitest';
import { MicrotaskScheduler } from './microtask-scheduler.js';
import type { Clock } from './clock.js';

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

  it('runs a timed task no earlier than its time by the clock, and a cancelled one never', async () => {
    const s = new MicrotaskScheduler();
    const t0 = s.now();
    const log: string[] = [];
    const at = await new Promise<number>((resolve) => {
      s.after(15, () => resolve(s.now()));
      const cancel = s.after(5, () => log.push('cancelled task ran'));
      cancel();
      cancel(); // idempotent
    });
    expect(at - t0).toBeGreaterThanOrEqual(15);
    expect(log).toEqual([]);
  });

  it('a time already past runs soon, never inside the call, in the order given', async () => {
    const s = new MicrotaskScheduler();
    const log: string[] = [];
    s.at(s.now() - 100, () => log.push('past'));
    s.after(0, () => log.push('zero'));
    s.schedule(() => log.push('soon'));
    expect(log).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['past', 'zero', 'soon']);
  });

  it('re-arms a timer that the platform fires before the clock says it is due', async () => {
    // a clock that runs 30 ms behind real time: a 10 ms timer must wait for the clock, not the platform
    const lag = 30;
    let started = false;
    const t0 = performance.now();
    const slow: Clock = { now: () => (started ? Math.max(0, performance.now() - t0 - lag) : 0) };
    const s = new MicrotaskScheduler({ clock: slow });
    started = true;
    const ranAt = await new Promise<number>((resolve) => s.at(10, () => resolve(slow.now())));
    expect(ranAt).toBeGreaterThanOrEqual(10);
  });

  it('refuses a time that is not a finite number of milliseconds', () => {
    const s = new MicrotaskScheduler();
    expect(() => s.at(Number.NaN, () => {})).toThrow(/timeMs/);
    expect(() => s.after(Number.POSITIVE_INFINITY, () => {})).toThrow(/delayMs/);
  });
});
