import { describe, expect, it, vi } from 'vitest';
import { RingError, VbusError } from '../errors.js';
import { RegionMemory } from '../memory/region-memory.js';
import {
  SHM_SIGNAL_MAGIC,
  SHM_SIGNAL_OFF_MAGIC,
  SHM_SIGNAL_OFF_VERSION,
  SHM_SIGNAL_SIDE_DIRTY,
  SHM_SIGNAL_SIDE_ENABLED,
  SHM_SIGNAL_SIDE_PENDING,
  SHM_SIGNAL_SIZE,
  SHM_SIGNAL_VERSION,
  Side,
  signalCell,
} from './layout.js';
import { ShmSignal } from './shm-signal.js';

/** A formatted descriptor and both endpoints. Wakes are recorded, not delivered, unless `deliver`. */
function pair(deliver = false) {
  const memory = RegionMemory.create(0x1000, SHM_SIGNAL_SIZE);
  const cells = ShmSignal.cellsAt(memory, 0x1000);
  ShmSignal.format(cells);
  const wakes = { north: 0, south: 0 };
  // north's endpoint wakes south, and the other way round
  const north: ShmSignal = new ShmSignal(
    cells,
    Side.North,
    () => {
      wakes.south++;
      if (deliver) south.wakeup();
    },
    'test.n',
  );
  const south: ShmSignal = new ShmSignal(
    cells,
    Side.South,
    () => {
      wakes.north++;
      if (deliver) north.wakeup();
    },
    'test.s',
  );
  const field = (side: Side, f: number) => Atomics.load(cells, signalCell(side, f));
  const state = (side: Side) => ({
    enabled: field(side, SHM_SIGNAL_SIDE_ENABLED),
    pending: field(side, SHM_SIGNAL_SIDE_PENDING),
    dirty: field(side, SHM_SIGNAL_SIDE_DIRTY),
  });
  return { memory, cells, north, south, wakes, state };
}

describe('ShmSignal.format and attach', () => {
  it('writes magic, version, both sides enabled, nothing pending or dirty', () => {
    const { cells, state } = pair();
    expect(Atomics.load(cells, SHM_SIGNAL_OFF_MAGIC >> 2) >>> 0).toBe(SHM_SIGNAL_MAGIC);
    expect(Atomics.load(cells, SHM_SIGNAL_OFF_VERSION >> 2)).toBe(SHM_SIGNAL_VERSION);
    expect(state(Side.North)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
  });

  it('the bytes are little-endian in guest memory', () => {
    const { memory } = pair();
    expect([...memory.read(0x1000, 8)]).toEqual([0xdf, 0x39, 0xfa, 0x58, 1, 0, 0, 0]);
  });

  it('bad magic, bad version or too few cells give a RingError naming the signal and the value', () => {
    const { cells } = pair();
    Atomics.store(cells, 0, 0x12345678);
    let e: unknown;
    try {
      new ShmSignal(cells, Side.South, () => {}, 'sig.x');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(RingError);
    expect(VbusError.is(e)).toBe(true);
    expect(e).toMatchObject({ ring: 'sig.x', index: -1, value: 0x12345678 });
    expect((e as Error).message).toMatch(/magic/);

    ShmSignal.format(cells);
    Atomics.store(cells, 1, 2);
    expect(() => new ShmSignal(cells, Side.South, () => {})).toThrow(RingError);
    try {
      new ShmSignal(cells, Side.North, () => {});
    } catch (x) {
      expect(x).toMatchObject({ value: 2 });
      expect((x as Error).message).toMatch(/version/);
    }
    expect(() => new ShmSignal(new Int32Array(new SharedArrayBuffer(28)), Side.North, () => {})).toThrow(RingError);
    // zeroed memory (never formatted)
    expect(() => new ShmSignal(new Int32Array(new SharedArrayBuffer(32)), Side.North, () => {})).toThrow(RingError);
  });
});

describe('ShmSignal.inject', () => {
  it('crosses when the receiver is enabled and nothing is pending: sets dirty and pending, wakes, counts injected', () => {
    const { north, wakes, state } = pair();
    expect(north.inject()).toBe(true);
    expect(wakes.south).toBe(1);
    expect(north.counters).toMatchObject({ injected: 1, suppressed: 0 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 1, dirty: 1 });
    // the sender's own side is untouched
    expect(state(Side.North)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
  });

  it('is suppressed while one is pending, but still marks dirty', () => {
    const { north, cells, wakes, state } = pair();
    north.inject();
    // the receiver ran its handler (dirty cleared) but has not finished the wakeup: still pending
    Atomics.store(cells, signalCell(Side.South, SHM_SIGNAL_SIDE_DIRTY), 0);
    expect(north.inject()).toBe(false);
    expect(north.inject()).toBe(false);
    expect(wakes.south).toBe(1);
    expect(north.counters).toMatchObject({ injected: 1, suppressed: 2 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 1, dirty: 1 });
  });

  it('is suppressed while the receiver is disabled, but still marks dirty (and does not set pending)', () => {
    const { north, south, wakes, state } = pair();
    south.disable();
    expect(south.enabled).toBe(false);
    expect(north.inject()).toBe(false);
    expect(wakes.south).toBe(0);
    expect(north.counters).toMatchObject({ injected: 0, suppressed: 1 });
    expect(state(Side.South)).toEqual({ enabled: 0, pending: 0, dirty: 1 });
    expect(south.dirty).toBe(true);
  });

  it('is suppressed while the receiver is still dirty from an earlier signal: no wake, the flags are left as they are, and that earlier signal runs the handler', () => {
    const { north, south, cells, wakes, state } = pair();
    let runs = 0;
    south.handler = () => runs++;
    // masked, signalled, then unmasking: enable() has stored enabled and is about to re-check dirty
    south.disable();
    north.inject();
    Atomics.store(cells, signalCell(Side.South, SHM_SIGNAL_SIDE_ENABLED), 1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 1 });
    // a second signal here would be a second wake for the same work: dirty says a run is due
    expect(north.inject()).toBe(false);
    expect(wakes.south).toBe(0);
    expect(north.counters).toMatchObject({ injected: 0, suppressed: 2 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 1 });
    // the re-check of enable() (or a wakeup in progress) finds dirty and runs the handler once
    south.enable();
    expect(runs).toBe(1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    // once the handler has cleared dirty, the next signal crosses again
    expect(north.inject()).toBe(true);
    expect(wakes.south).toBe(1);
  });

  it('the two directions are independent', () => {
    const { north, south, wakes, state } = pair();
    expect(north.inject()).toBe(true);
    expect(south.inject()).toBe(true);
    expect(wakes).toEqual({ north: 1, south: 1 });
    expect(state(Side.North)).toEqual({ enabled: 1, pending: 1, dirty: 1 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 1, dirty: 1 });
  });
});

describe('ShmSignal.enable / disable', () => {
  it('enable re-checks and runs the handler for a signal raised while masked (no lost signal)', () => {
    const { north, south, state } = pair();
    const handler = vi.fn();
    south.handler = handler;
    south.disable();
    north.inject();
    north.inject();
    expect(handler).not.toHaveBeenCalled();
    south.enable();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    expect(south.counters).toMatchObject({ handlerRuns: 1, wakeups: 1 });
    // and signals cross again afterwards
    expect(north.inject()).toBe(true);
  });

  it('enable with nothing dirty or pending does not run the handler', () => {
    const { south } = pair();
    const handler = vi.fn();
    south.handler = handler;
    south.disable();
    south.enable();
    south.enable();
    expect(handler).not.toHaveBeenCalled();
    expect(south.counters.wakeups).toBe(0);
  });

  it('enable runs a wakeup that was left pending (woken while masked after the wake was sent)', () => {
    const { north, south, state } = pair();
    const handler = vi.fn();
    south.handler = handler;
    north.inject(); // crossed: pending=1, the wake is in flight
    south.disable(); // receiver masks before the wake is delivered
    south.wakeup(); // the wake arrives: masked, so no handler run
    expect(handler).not.toHaveBeenCalled();
    expect(state(Side.South).pending).toBe(1);
    south.enable();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
  });
});

describe('ShmSignal.wakeup', () => {
  it('runs the handler once per crossing and clears dirty before the handler, pending after', () => {
    const { north, south, state } = pair(true);
    const seen: Array<ReturnType<typeof state>> = [];
    south.handler = () => seen.push(state(Side.South));
    expect(north.inject()).toBe(true);
    expect(seen).toEqual([{ enabled: 1, pending: 1, dirty: 0 }]);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    expect(north.inject()).toBe(true);
    expect(seen.length).toBe(2);
    expect(south.counters).toMatchObject({ handlerRuns: 2, wakeups: 2 });
  });

  it('a wakeup with nothing to do runs no handler', () => {
    const { south } = pair();
    const handler = vi.fn();
    south.handler = handler;
    south.wakeup();
    expect(handler).not.toHaveBeenCalled();
    expect(south.counters.wakeups).toBe(1);
  });

  it('a handler during which the sender injects again runs again in the same wakeup, and those injects do not cross', () => {
    const { north, south, wakes } = pair(true);
    let again = 5;
    south.handler = () => {
      if (again-- > 0) north.inject();
    };
    north.inject();
    expect(south.counters.handlerRuns).toBe(6);
    expect(south.counters.wakeups).toBe(1);
    expect(wakes.south).toBe(1);
    expect(north.counters).toMatchObject({ injected: 1, suppressed: 5 });
    // finished cleanly: the next inject crosses
    expect(north.inject()).toBe(true);
    expect(wakes.south).toBe(2);
  });

  it('a handler that disables itself (poll mode) stops the loop; enable later picks up what arrived meanwhile', () => {
    const { north, south, state } = pair(true);
    let runs = 0;
    south.handler = () => {
      runs++;
      if (runs === 1) {
        south.disable();
        north.inject(); // arrives while masked: suppressed, dirty
      }
    };
    north.inject();
    expect(runs).toBe(1);
    expect(state(Side.South)).toEqual({ enabled: 0, pending: 0, dirty: 1 });
    expect(north.counters.suppressed).toBe(1);
    south.enable();
    expect(runs).toBe(2);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
  });

  it('enable inside the handler does not nest a wakeup, and the outer loop still sees the new signal', () => {
    const { north, south } = pair(true);
    let depth = 0;
    let maxDepth = 0;
    let runs = 0;
    south.handler = () => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      runs++;
      if (runs === 1) {
        south.disable();
        north.inject();
        south.enable(); // re-check inside the handler: must not recurse
      }
      depth--;
    };
    north.inject();
    expect(maxDepth).toBe(1);
    expect(runs).toBe(2);
    expect(south.counters.wakeups).toBe(1);
  });

  it('bounds a wakeup at 64 handler runs, leaves the signal pending and calls selfWake; the next wakeup continues', () => {
    const { north, south, wakes, state } = pair(true);
    let more = 100;
    south.handler = () => {
      if (more-- > 0) north.inject(); // a peer that keeps the signal dirty
    };
    const selfWake = vi.fn();
    south.selfWake = selfWake;
    north.inject();
    expect(south.counters.handlerRuns).toBe(64);
    expect(selfWake).toHaveBeenCalledTimes(1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 1, dirty: 1 });
    // while pending, injects are suppressed (the self-wake will pick them up)
    expect(north.inject()).toBe(false);
    expect(wakes.south).toBe(1);
    south.wakeup();
    expect(south.counters.handlerRuns).toBe(101);
    expect(selfWake).toHaveBeenCalledTimes(1);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    expect(north.inject()).toBe(true);
  });

  it('without a selfWake, a wakeup that hits the bound still gets re-run (no signal stranded as pending)', async () => {
    const { north, south, state } = pair(true);
    let more = 100;
    south.handler = () => {
      if (more-- > 0) north.inject();
    };
    expect(south.selfWake).toBeUndefined();
    north.inject();
    expect(south.counters.handlerRuns).toBe(64);
    await vi.waitFor(() => expect(south.counters.handlerRuns).toBe(101), { timeout: 2000, interval: 5 });
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
    expect(north.inject()).toBe(true);
  });

  it('a handler that throws does not leave the endpoint deaf: the next inject crosses again', () => {
    const { north, south, state } = pair(true);
    let fail = true;
    const handler = vi.fn(() => {
      if (fail) throw new Error('device bug');
    });
    south.handler = handler;
    expect(() => north.inject()).toThrow('device bug');
    fail = false;
    expect(state(Side.South).pending).toBe(0);
    expect(north.inject()).toBe(true);
    expect(handler).toHaveBeenCalledTimes(2);
    expect(state(Side.South)).toEqual({ enabled: 1, pending: 0, dirty: 0 });
  });
});
