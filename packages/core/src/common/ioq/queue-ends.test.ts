import { describe, expect, it } from 'vitest';
import { RegionMemory } from '../memory/region-memory.js';
import { Ioq } from './ioq.js';
import { IoqDeviceQueue, IoqDriverQueue } from './queue-ends.js';

const BASE = 0x1000;

function pair(count = 4) {
  const mem = RegionMemory.create(BASE, 1 << 16);
  const driver = new IoqDriverQueue(mem, BASE, count, 'q');
  const device = new IoqDeviceQueue(mem, BASE, Ioq.byteLength(count), () => {}, 'q');
  return { driver, device };
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
});
