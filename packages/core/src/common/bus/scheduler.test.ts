import { describe, expect, it } from 'vitest';
import { VirtualTimeScheduler } from './scheduler.js';

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
