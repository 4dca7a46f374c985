import { describe, expect, it } from 'vitest';
import { RegionMemory } from '../memory/region-memory.js';
import { Ioq } from './ioq.js';
import { IOQ_IDX_HEAD, IOQ_OFF_IDX_INUSE } from './layout.js';
import { IOQ_COMPLETE_PUBLISH_BATCH, IOQ_POST_PUBLISH_BATCH, IoqDeviceQueue, IoqDriverQueue } from './queue-ends.js';

const BASE = 0x1000;

function pair(count = 4, wake: () => void = () => {}) {
  const mem = RegionMemory.create(BASE, 1 << 16);
  const driver = new IoqDriverQueue(mem, BASE, count, 'q');
  const device = new IoqDeviceQueue(mem, BASE, Ioq.byteLength(count), wake, 'q');
  return { mem, driver, device };
}

/** Post `n` buffers (cookie i, ptr 0x8000 + 0x100 i, len 64 + i). */
function postAll(driver: IoqDriverQueue, n: number): void {
  for (let i = 0; i < n; i++) expect(driver.post(0x8000 + 0x100 * i, 64 + i, i)).toBe(true);
}

function reclaimAll(driver: IoqDriverQueue): Array<[number, number]> {
  const got: Array<[number, number]> = [];
  driver.reclaim((cookie, len) => got.push([cookie, len]));
  return got;
}

describe('IOQ queue ends', () => {
  it('hasCompleted turns true only once the device has completed the oldest posted buffer', () => {
    const { driver, device } = pair();
    expect(driver.hasCompleted).toBe(false);
    expect(driver.post(0x8000, 64, 7)).toBe(true);
    expect(driver.post(0x8100, 64, 8)).toBe(true);
    expect(driver.hasCompleted).toBe(false);
    expect(device.next()).toBe(true);
    expect([device.ptr, device.len, device.cookie]).toEqual([0x8000, 64, 7]);
    device.complete(60);
    expect(driver.hasCompleted).toBe(true);
    const got: Array<[number, number]> = [];
    expect(driver.reclaim((cookie, len) => got.push([cookie, len]))).toBe(1);
    expect(got).toEqual([[7, 60]]);
    expect(driver.hasCompleted).toBe(false);
    expect(driver.outstanding).toBe(1);
  });

  it('post refuses a full ring and changes nothing', () => {
    const { driver, device } = pair(2);
    expect(driver.post(0x8000, 8, 1)).toBe(true);
    expect(driver.post(0x8100, 8, 2)).toBe(true);
    expect(driver.canPost).toBe(false);
    expect(driver.post(0x8200, 8, 3)).toBe(false);
    expect(driver.outstanding).toBe(2);
    expect(device.next()).toBe(true);
    expect(device.cookie).toBe(1);
  });

  describe('completions published in batches', () => {
    it('completions with more stay invisible to the driver until publish, which hands them all back in order', () => {
      const { mem, driver, device } = pair(8);
      postAll(driver, 5);
      for (let i = 0; i < 5; i++) {
        expect(device.next()).toBe(true);
        expect([device.cookie, device.len]).toEqual([i, 64 + i]);
        device.complete(i * 10, true);
      }
      expect(device.next()).toBe(false); // the device moved past all five
      expect(driver.hasCompleted).toBe(false);
      expect(reclaimAll(driver)).toEqual([]);
      const inuseHead = mem.int32(BASE + IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD, 1);
      expect(inuseHead[0]).toBe(0); // the index is not written per completion either
      device.publish();
      expect(inuseHead[0]).toBe(5);
      expect(reclaimAll(driver)).toEqual([0, 1, 2, 3, 4].map((i) => [i, i * 10]));
      device.publish(); // nothing pending: a no-op
      expect(inuseHead[0]).toBe(5);
    });

    it('a completion without more publishes the ones kept back before it', () => {
      const { driver, device } = pair(8);
      postAll(driver, 3);
      device.next();
      device.complete(1, true);
      device.next();
      device.complete(2, true);
      device.next();
      device.complete(3);
      expect(reclaimAll(driver)).toEqual([
        [0, 1],
        [1, 2],
        [2, 3],
      ]);
    });

    it('notify publishes before it wakes the driver', () => {
      let seenByWake: Array<[number, number]> | undefined;
      const { driver, device } = pair(8, () => (seenByWake = reclaimAll(driver)));
      postAll(driver, 2);
      device.next();
      device.complete(7, true);
      device.next();
      device.complete(8, true);
      expect(device.notify()).toBe(true);
      expect(seenByWake).toEqual([
        [0, 7],
        [1, 8],
      ]);
    });

    it(`publishes by itself after ${IOQ_COMPLETE_PUBLISH_BATCH} completions, so a long drain returns buffers as it runs`, () => {
      const n = IOQ_COMPLETE_PUBLISH_BATCH + 3;
      const { driver, device } = pair(64);
      postAll(driver, n);
      for (let i = 0; i < n; i++) {
        device.next();
        device.complete(0, true);
      }
      expect(reclaimAll(driver).map(([c]) => c)).toEqual(Array.from({ length: IOQ_COMPLETE_PUBLISH_BATCH }, (_, i) => i));
      device.publish();
      expect(reclaimAll(driver).map(([c]) => c)).toEqual([32, 33, 34]);
    });

    it('a batch of kept-back completions that covers the whole ring is published at once: the device never takes a buffer it has completed', () => {
      // a ring smaller than the publish batch: the batch's first flag, stored last, would still
      // read as posted when the head came round to it again
      const { driver, device } = pair(8);
      postAll(driver, 8);
      for (let i = 0; i < 8; i++) {
        expect(device.next()).toBe(true);
        device.complete(0, true);
      }
      expect(device.next()).toBe(false);
      expect(reclaimAll(driver).map(([c]) => c)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('a guest that rewrote the inuse head while completions were kept back fails the ring when they are published', () => {
      const { mem, driver, device } = pair(8);
      postAll(driver, 2);
      device.next();
      device.complete(0, true);
      mem.int32(BASE + IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD, 1)[0] = 3;
      device.next();
      expect(() => device.complete(0)).toThrow(/pop is only allowed at the head/);
      mem.int32(BASE + IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD, 1)[0] = 99;
      expect(() => device.publish()).toThrow(/idx\[1\]\.head must be below count 8/);
    });
  });

  describe('posts published in batches', () => {
    /** What the device can take now: the cookies, in order (each completed at once, kept back). */
    function deviceTakes(device: IoqDeviceQueue): number[] {
      const got: number[] = [];
      while (device.next()) {
        got.push(device.cookie);
        device.complete(0, true);
      }
      return got;
    }

    it('posts with more reach the device together, at publish, a post without more, or kick', () => {
      const { driver, device } = pair(16);
      for (let i = 0; i < 3; i++) expect(driver.post(0x8000 + 0x100 * i, 64, i, true)).toBe(true);
      expect(driver.unpublishedCount).toBe(3);
      expect(deviceTakes(device)).toEqual([]);
      driver.publish();
      expect(driver.unpublishedCount).toBe(0);
      expect(deviceTakes(device)).toEqual([0, 1, 2]);
      driver.post(0x8300, 64, 3, true);
      driver.post(0x8400, 64, 4); // the batch's last frame publishes the batch
      expect(deviceTakes(device)).toEqual([3, 4]);
      driver.post(0x8500, 64, 5, true);
      expect(driver.kick()).toBe(true);
      expect(deviceTakes(device)).toEqual([5]);
      driver.publish(); // nothing kept back: a no-op
      expect(deviceTakes(device)).toEqual([]);
    });

    it(`publishes by itself after ${IOQ_POST_PUBLISH_BATCH} posts, so a polling device starts on a long batch`, () => {
      const { driver, device } = pair(64);
      for (let i = 0; i < IOQ_POST_PUBLISH_BATCH + 2; i++) driver.post(0x8000 + 0x40 * i, 64, i, true);
      expect(deviceTakes(device)).toEqual(Array.from({ length: IOQ_POST_PUBLISH_BATCH }, (_, i) => i));
      expect(driver.unpublishedCount).toBe(2);
    });

    it('reclaim and hasCompleted never take a buffer the device cannot see yet', () => {
      // the batch's first flag is still 0 (handed back, as it reads) until it is published
      const { driver, device } = pair(8);
      driver.post(0x8000, 64, 0);
      expect(deviceTakes(device)).toEqual([0]);
      device.publish();
      driver.post(0x8100, 64, 1, true);
      driver.post(0x8200, 64, 2, true);
      expect(reclaimAll(driver)).toEqual([[0, 0]]);
      expect(driver.hasCompleted).toBe(false);
      expect(reclaimAll(driver)).toEqual([]);
      expect(driver.outstanding).toBe(2);
      driver.publish();
      expect(deviceTakes(device)).toEqual([1, 2]);
      device.publish();
      expect(reclaimAll(driver)).toEqual([
        [1, 0],
        [2, 0],
      ]);
    });
  });

  describe('completion signals within a pass (notifyInPass, settleDeferred)', () => {
    /** A ring of 64 with 64 posted; the driver's signal endpoint reclaims when its wakeup runs (the test decides when, as another thread would). */
    function ring() {
      let wakes = 0;
      const { driver, device } = pair(64, () => wakes++);
      postAll(driver, 64);
      const north = driver.ioq.signal;
      const reclaimed: number[] = [];
      north.handler = () => driver.reclaim((cookie) => reclaimed.push(cookie));
      const complete = (n: number) => {
        for (let i = 0; i < n; i++) {
          expect(device.next()).toBe(true);
          device.complete(0, true);
        }
      };
      return { device, north, reclaimed, complete, wakes: () => wakes, counters: device.ioq.signal.counters };
    }

    it('a signal whose driver run is already due is counted as suppressed and its completions wait for the end of the pass, which the due run sees', () => {
      const t = ring();
      t.complete(10);
      expect(t.device.notifyInPass()).toBe(true); // crossed: the driver's run is now due
      t.complete(10);
      expect(t.device.notifyInPass()).toBe(false); // deferred: counted, nothing published
      expect(t.counters).toMatchObject({ injected: 1, suppressed: 1 });
      expect(t.device.settleDeferred()).toBeUndefined(); // the run is still due: publish only
      expect(t.wakes()).toBe(1);
      t.north.wakeup();
      expect(t.reclaimed).toEqual([...Array(20).keys()]);
    });

    it('when the due run happened in between (and missed the deferred completions), the end of the pass raises the deferred signal after all, in place of its suppressed count', () => {
      const t = ring();
      t.complete(10);
      t.device.notifyInPass();
      t.complete(10);
      expect(t.device.notifyInPass()).toBe(false);
      t.north.wakeup(); // sees the first ten only, clears dirty and pending
      expect(t.reclaimed).toEqual([...Array(10).keys()]);
      expect(t.device.settleDeferred()).toBe(true);
      expect(t.wakes()).toBe(2);
      expect(t.counters).toMatchObject({ injected: 2, suppressed: 0 });
      t.north.wakeup();
      expect(t.reclaimed).toEqual([...Array(20).keys()]);
      expect(t.device.settleDeferred()).toBeUndefined(); // settled once
    });

    it('a notify after a deferred signal publishes everything and leaves nothing to settle', () => {
      const t = ring();
      t.complete(10);
      t.device.notifyInPass();
      t.complete(10);
      t.device.notifyInPass();
      t.north.wakeup();
      t.complete(5);
      expect(t.device.notify()).toBe(true);
      expect(t.device.settleDeferred()).toBeUndefined();
      t.north.wakeup();
      expect(t.reclaimed).toEqual([...Array(25).keys()]);
    });
  });
});
