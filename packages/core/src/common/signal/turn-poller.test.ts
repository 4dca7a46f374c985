import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { TurnPoller, checkPollTurns, MAX_POLL_TURNS } from './turn-poller.js';

/** A context whose turns the test steps by hand, and a queue that records what the poller did. */
function rig(turns: number) {
  const pending: Array<() => void> = [];
  const log: string[] = [];
  let work = 0;
  let drainResult = true;
  const poller = new TurnPoller({ nextTurn: (fn) => void pending.push(fn) }, turns, {
    hasWork: () => work > 0,
    drain: () => {
      log.push(`drain ${work}`);
      work = 0;
      return drainResult;
    },
    unmask: () => void log.push('unmask'),
  });
  const step = () => {
    const fn = pending.shift();
    if (!fn) throw new Error('no turn pending');
    fn();
  };
  return {
    poller,
    log,
    step,
    pending,
    addWork: (n: number) => void (work += n),
    failDrains: () => void (drainResult = false),
  };
}

describe('TurnPoller', () => {
  it('with 0 turns unmasks at once, as a device without polling does', () => {
    const r = rig(0);
    r.poller.idle();
    expect(r.log).toEqual(['unmask']);
    expect(r.pending.length).toBe(0);
    expect(r.poller.active).toBe(false);
  });

  it('keeps the signal masked for exactly `turns` empty turns, then unmasks', () => {
    const r = rig(3);
    r.poller.idle();
    expect(r.poller.active).toBe(true);
    r.step();
    r.step();
    expect(r.log).toEqual([]);
    r.step();
    expect(r.log).toEqual(['unmask']);
    expect(r.pending.length).toBe(0);
    expect(r.poller.active).toBe(false);
  });

  it('drains work found on a turn, still masked, and counts the empty turns again from there', () => {
    const r = rig(2);
    r.poller.idle();
    r.step(); // empty: 1 of 2
    r.addWork(5);
    r.step(); // work: drained, count restarts
    expect(r.log).toEqual(['drain 5']);
    r.step(); // empty: 1 of 2
    expect(r.log).toEqual(['drain 5']);
    r.step(); // empty: 2 of 2
    expect(r.log).toEqual(['drain 5', 'unmask']);
  });

  it('stops without unmasking when a drain says so (device failed, or its own deferred pass took over)', () => {
    const r = rig(4);
    r.poller.idle();
    r.failDrains();
    r.addWork(1);
    r.step();
    expect(r.log).toEqual(['drain 1']);
    expect(r.pending.length).toBe(0);
    expect(r.poller.active).toBe(false);
    // the deferred pass ends with idle(): polling starts over
    r.poller.idle();
    expect(r.pending.length).toBe(1);
  });

  it('idle() while polling restarts the count without a second chain of turns; cancel() ends it', () => {
    const r = rig(2);
    r.poller.idle();
    r.step();
    r.poller.idle();
    expect(r.pending.length).toBe(1);
    r.step();
    expect(r.log).toEqual([]);
    r.poller.cancel();
    r.step();
    expect(r.log).toEqual([]);
    expect(r.pending.length).toBe(0);
  });

  it('checkPollTurns: the default when absent, an integer in range, else a ConfigError naming pollTurns', () => {
    expect(checkPollTurns(undefined, 16)).toBe(16);
    expect(checkPollTurns(0, 16)).toBe(0);
    expect(checkPollTurns(MAX_POLL_TURNS, 16)).toBe(MAX_POLL_TURNS);
    for (const bad of [-1, 1.5, MAX_POLL_TURNS + 1, Number.NaN, '4']) {
      expect(() => checkPollTurns(bad, 16)).toThrow(ConfigError);
      expect(() => checkPollTurns(bad, 16)).toThrow(/pollTurns/);
    }
  });
});
