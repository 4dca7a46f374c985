import { describe, expect, it } from 'vitest';
import { Ioq, IOQ_OFF_SIGNAL, IoqDriverQueue, RegionMemory, ShmSignal, Side, type ShmRegistration } from '@vbus/core';
import { DeviceRing } from './device-ring.js';

const BASE = 0x1000;
const COUNT = 64;

/**
 * A tx ring with both ends in one thread: the driver's queue and its signal endpoint (north),
 * whose handler reclaims, and the device's DeviceRing (south), whose signal to the driver is
 * only recorded: the test decides when the driver's wakeup runs, as another thread would.
 */
function txRing() {
  const memory = RegionMemory.create(BASE, 1 << 16);
  const driver = new IoqDriverQueue(memory, BASE, COUNT, 'tx');
  const cells = ShmSignal.cellsAt(memory, BASE + IOQ_OFF_SIGNAL);
  let wakes = 0;
  const south = new ShmSignal(cells, Side.South, () => wakes++, 'tx.south');
  const north = new ShmSignal(cells, Side.North, () => {}, 'tx.north');
  const reclaimed: number[] = [];
  north.handler = () => driver.reclaim((cookie) => reclaimed.push(cookie));
  const reg: ShmRegistration = { id: 1, connection: 0, address: BASE, length: Ioq.byteLength(COUNT), memory, signal: south };
  const stats = { frames: 0, bytes: 0, drops: 0, kicks: 0, interrupts: 0, suppressed: 0 };
  const ring = new DeviceRing(reg, south, 'tx', COUNT, stats);
  for (let i = 0; i < COUNT; i++) expect(driver.post(0x8000 + 0x100 * i, 64, i)).toBe(true);
  const complete = (n: number) => {
    for (let i = 0; i < n; i++) {
      expect(ring.next()).toBe(true);
      ring.complete(0, true);
    }
  };
  return { driver, north, ring, stats, reclaimed, complete, wakes: () => wakes };
}

describe('DeviceRing: tx-complete signals within a pass, as the device counts them', () => {
  it('a signal whose driver run is already due is counted as suppressed, and its completions wait for the end of the pass, which the due run sees', () => {
    const t = txRing();
    t.complete(10);
    t.ring.notifyInPass(); // crossed: the driver's run is now due
    expect(t.wakes()).toBe(1);
    t.complete(10);
    t.ring.notifyInPass(); // deferred: counted, nothing published
    expect(t.stats).toMatchObject({ interrupts: 1, suppressed: 1 });
    t.ring.settleDeferred(); // the due run has not happened: publish, no second signal
    expect(t.wakes()).toBe(1);
    t.north.wakeup();
    expect(t.reclaimed).toEqual([...Array(20).keys()]);
  });

  it('when the due run happened in between (and missed the deferred completions), the end of the pass signals again', () => {
    const t = txRing();
    t.complete(10);
    t.ring.notifyInPass();
    t.complete(10);
    t.ring.notifyInPass();
    expect(t.stats).toMatchObject({ interrupts: 1, suppressed: 1 });
    // the driver runs now, in its own thread: it sees the first ten only, clears dirty and pending
    t.north.wakeup();
    expect(t.reclaimed).toEqual([...Array(10).keys()]);
    t.ring.settleDeferred();
    expect(t.wakes()).toBe(2);
    // the deferred signal was raised after all: two signals for two batches, neither suppressed
    expect(t.stats).toMatchObject({ interrupts: 2, suppressed: 0 });
    t.north.wakeup();
    expect(t.reclaimed).toEqual([...Array(20).keys()]);
  });
});
