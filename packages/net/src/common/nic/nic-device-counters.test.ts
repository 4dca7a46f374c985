import { expect, it } from 'vitest';
import { diffNicDeviceCounters, nicDeviceCounters } from './nic-device-counters.js';

it("sums a NIC device's rx*/tx* queues, counts every queue's signals, and diffs two readings", () => {
  const snapshot = {
    devices: [
      {
        name: 'venet0',
        counters: { rx: { frames: 5, drops: 1, interrupts: 2, suppressed: 3 }, tx: { frames: 7, drops: 2, kicks: 1, interrupts: 1 }, events: { interrupts: 4 }, linkUps: 1 },
      },
      { name: 'vnet0', counters: { rx0: { frames: 1 }, rx1: { frames: 2 }, tx0: { frames: 3, kicks: 2 }, ctrl: { kicks: 1 } } },
    ],
  };
  const now = nicDeviceCounters(snapshot);
  expect(now.venet0).toEqual({ txFrames: 7, rxFrames: 5, drops: 3, rxDrops: 1, kicks: 1, interrupts: 7, suppressed: 3 });
  expect(now.vnet0).toEqual({ txFrames: 3, rxFrames: 3, drops: 0, rxDrops: 0, kicks: 3, interrupts: 0, suppressed: 0 });
  expect(diffNicDeviceCounters(now.venet0!, { ...now.venet0!, txFrames: 2, kicks: 0 })).toEqual({
    txFrames: 5,
    rxFrames: 0,
    drops: 0,
    rxDrops: 0,
    kicks: 1,
    interrupts: 0,
    suppressed: 0,
  });
});
