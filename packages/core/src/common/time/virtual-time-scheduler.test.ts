import { describe, expect, it } from 'vitest';
import { VirtualTimeScheduler } from './virtual-time-scheduler.js';

describe('VirtualTimeScheduler', () => {
  it('runs tasks in time order, same-time tasks in the order scheduled, and only when stepped', () => {
    const vts = new VirtualTimeScheduler({ latencyNs: 100_000 }); // "soon" = 0.1 ms
    const log: string[] = [];
    vts.at(0.3, () => log.push('c@0.3'));
    vts.schedule(() => log.push('a@0.1'));
    vts.at(0.1, () => log.push('b@0.1'));
    expect(log).toEqual([]);
    expect(vts.pending).toBe(3);
    expect(vts.next()).toBe(0.1);
    expect(vts.step()).toBe(true);
    expect(log).toEqual(['a@0.1']);
    expect(vts.now()).toBe(0.1);
    expect(vts.nowNs).toBe(100_000);
    expect(vts.runUntilIdle()).toBe(2);
    expect(log).toEqual(['a@0.1', 'b@0.1', 'c@0.3']);
    expect(vts.step()).toBe(false);
    expect(vts.next()).toBeUndefined();
  });

  it('runUntil runs what is due by then and advances the clock even with nothing due; never back in time', () => {
    const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
    const log: number[] = [];
    vts.at(0.0005, () => log.push(vts.nowNs));
    vts.at(0.0015, () => log.push(vts.nowNs));
    expect(vts.runUntil(0.001)).toBe(1);
    expect(log).toEqual([500]);
    expect(vts.nowNs).toBe(1000);
    // "soon" lands latency later; after() counts from now
    vts.schedule(() => log.push(vts.nowNs));
    vts.after(0.002, () => log.push(vts.nowNs));
    expect(vts.runFor(0.004)).toBe(3);
    expect(log).toEqual([500, 1500, 2000, 3000]);
    expect(vts.nowNs).toBe(5000);
    vts.at(0, () => log.push(vts.nowNs));
    vts.step();
    expect(log.at(-1)).toBe(5000);
  });

  it('keeps time exact in whole nanoseconds over many steps', () => {
    const vts = new VirtualTimeScheduler({ latencyNs: 7 });
    let n = 0;
    const tick = (): void => {
      if (++n < 100_000) vts.schedule(tick);
    };
    vts.schedule(tick);
    vts.runUntilIdle();
    expect(vts.nowNs).toBe(700_000);
    expect(vts.now()).toBe(0.7);
  });

  it('a cancelled task never runs, does not move the clock, and is not counted as pending', () => {
    const vts = new VirtualTimeScheduler();
    const log: string[] = [];
    const cancel = vts.after(5, () => log.push('cancelled'));
    vts.after(1, () => log.push('kept'));
    expect(vts.pending).toBe(2);
    cancel();
    cancel();
    expect(vts.pending).toBe(1);
    expect(vts.runUntilIdle()).toBe(1);
    expect(log).toEqual(['kept']);
    expect(vts.now()).toBe(1);
  });

  it('a timeout re-armed a million times leaves no pile of cancelled tasks behind', () => {
    const vts = new VirtualTimeScheduler();
    let cancel = vts.after(1000, () => {});
    for (let i = 0; i < 1_000_000; i++) {
      cancel();
      cancel = vts.after(1000, () => {});
    }
    expect(vts.pending).toBe(1);
    // the heap is compacted whenever cancelled tasks outnumber live ones
    expect((vts as unknown as { heap: unknown[] }).heap.length).toBeLessThanOrEqual(130);
  });

  it('two identical scenarios give identical orders and times', () => {
    const run = (): string[] => {
      const vts = new VirtualTimeScheduler({ latencyNs: 250 });
      const log: string[] = [];
      for (let i = 0; i < 50; i++) vts.after((i * 7) % 13, () => log.push(`${vts.nowNs}:${i}`));
      for (let i = 0; i < 50; i++) vts.schedule(() => log.push(`${vts.nowNs}:s${i}`));
      vts.runUntilIdle();
      return log;
    };
    expect(run()).toEqual(run());
  });

  it('refuses a latency that is not a whole number of nanoseconds and a time that is not finite', () => {
    expect(() => new VirtualTimeScheduler({ latencyNs: 0.5 })).toThrow(/latencyNs/);
    expect(() => new VirtualTimeScheduler({ latencyNs: -1 })).toThrow(/latencyNs/);
    expect(() => new VirtualTimeScheduler().at(Number.NaN, () => {})).toThrow(/timeMs/);
  });
});
