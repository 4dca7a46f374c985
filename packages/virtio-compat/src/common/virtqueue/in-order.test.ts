import { describe, expect, it } from 'vitest';
import { ConfigError, RingError, RegionMemory } from '@vbus/core';
import { MockDriver } from '../../testing/index.js';
import { VIRTQ_DESC_SIZE, VIRTQ_USED_ELEM_SIZE, VIRTQ_USED_RING } from './layout.js';
import { PackedQueueDriver } from './packed-queue-driver.js';
import { SplitQueueDevice } from './split-queue-device.js';

/** VIRTIO_F_IN_ORDER on split rings (virtio 1.2 §2.7.9): the device's batches, the driver's ring order. */

const MARK = 0xeeeeeeee;

function inOrderRing(size = 8) {
  const m = new MockDriver<number>({ kind: 'split', size, inOrder: true });
  const used = m.split.usedRing;
  // every used element marked, to see which ones the device writes
  for (let s = 0; s < size; s++) {
    m.pokeU32(used + VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * s, MARK);
    m.pokeU32(used + VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * s + 4, MARK);
  }
  const element = (s: number) => ({
    id: m.memory.view(used + VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * s, 4).reduce((a, b, i) => a + b * 2 ** (8 * i), 0),
    len: m.memory.view(used + VIRTQ_USED_RING + VIRTQ_USED_ELEM_SIZE * s + 4, 4).reduce((a, b, i) => a + b * 2 ** (8 * i), 0),
  });
  return { m, dev: m.device(), element };
}

describe('IN_ORDER: the device writes one used element per batch', () => {
  it('a batch of transmitted buffers: one element at the batch`s first slot, naming its last buffer; the index moves by the batch', () => {
    const { m, dev, element } = inOrderRing();
    for (let t = 0; t < 5; t++) expect(m.addBuffer([new Uint8Array([t, 1, 2])], [], t)).toBe(true);
    const heads: number[] = [];
    for (let c = dev.popChain(); c !== null; c = dev.popChain()) {
      heads.push(c.id);
      dev.addUsed(c.id, 0, true);
    }
    expect(heads).toHaveLength(5);
    expect(m.usedIdx()).toBe(0); // batched: nothing published yet
    dev.needsNotification();
    expect(m.usedIdx()).toBe(5);
    expect(element(0)).toEqual({ id: heads[4], len: 0 });
    for (let s = 1; s < 8; s++) expect(element(s)).toEqual({ id: MARK, len: MARK });
    // the driver expands the batch back into its five buffers, in order
    const got = [0, 1, 2, 3, 4].map(() => m.getUsed()!);
    expect(got.map((u) => u.token)).toEqual([0, 1, 2, 3, 4]);
    expect(got.map((u) => u.len)).toEqual([0, 0, 0, 0, 0]);
    expect(m.getUsed()).toBeNull();
    expect(m.driver.numFree).toBe(8);
  });

  it('a buffer used less than completely ends its batch: the driver gets every length exactly', () => {
    const { m, dev, element } = inOrderRing();
    for (let t = 0; t < 4; t++) m.addBuffer([], [8], t);
    const lens = [8, 3, 8, 8];
    const heads: number[] = [];
    for (const len of lens) {
      const c = dev.popChain()!;
      heads.push(c.id);
      c.writer().write(new Uint8Array(len).fill(0xa5));
      dev.addUsed(c.id, len, true);
    }
    dev.needsNotification();
    expect(m.usedIdx()).toBe(4);
    // [8, 3] end at the short one (slot 0); [8, 8] is the next batch (slot 2)
    expect(element(0)).toEqual({ id: heads[1], len: 3 });
    expect(element(1)).toEqual({ id: MARK, len: MARK });
    expect(element(2)).toEqual({ id: heads[3], len: 8 });
    const got = lens.map(() => m.getUsed()!);
    expect(got.map((u) => u.len)).toEqual(lens);
    expect(got.every((u) => u.written.every((b) => b === 0xa5))).toBe(true);
  });

  it('a batch is written out every USED_PUBLISH_BATCH buffers and on needsNotification, so a long drain keeps returning buffers', () => {
    const { m, dev } = inOrderRing(64);
    for (let t = 0; t < 40; t++) m.addBuffer([new Uint8Array([t])], [], t);
    for (let k = 0; k < 40; k++) {
      const c = dev.popChain()!;
      dev.addUsed(c.id, 0, true);
      if (k === 31) expect(m.usedIdx()).toBe(32);
    }
    expect(m.usedIdx()).toBe(32);
    dev.needsNotification();
    expect(m.usedIdx()).toBe(40);
    const tokens: number[] = [];
    for (let u = m.getUsed(); u !== null; u = m.getUsed()) tokens.push(u.token);
    expect(tokens).toEqual(Array.from({ length: 40 }, (_, t) => t));
  });

  it('a device that uses buffers out of order gets a ConfigError naming the one that is next; nothing is published', () => {
    const { m, dev } = inOrderRing();
    m.addBuffer([new Uint8Array([1])], [], 1);
    m.addBuffer([new Uint8Array([2])], [], 2);
    const first = dev.popChain()!.id;
    const second = dev.popChain()!.id;
    expect(() => dev.addUsed(second, 0)).toThrow(ConfigError);
    expect(() => dev.addUsed(second, 0)).toThrow(new RegExp(`the next one is head ${first}`));
    expect(m.usedIdx()).toBe(0);
    dev.addUsed(first, 0);
    dev.addUsed(second, 0);
    expect(m.usedIdx()).toBe(2);
    expect(dev.failed).toBe(false);
  });

  it('a driver that makes a head available again while the queue size is in flight fails the ring', () => {
    const { m, dev } = inOrderRing(4);
    for (let t = 0; t < 4; t++) m.addBuffer([new Uint8Array([t])], [], t);
    for (let k = 0; k < 4; k++) expect(dev.popChain()).not.toBeNull();
    m.publish(0); // head 0 again, raw, while all four are in flight
    expect(() => dev.popChain()).toThrow(RingError);
    expect(() => dev.popChain()).toThrow(/while 4 \(the queue size\) are in flight/);
    expect(dev.failed).toBe(true);
  });

  it('resumed with buffers in flight, the device takes their order from the avail ring and gives each its own element', () => {
    const { m, dev } = inOrderRing();
    for (let t = 0; t < 3; t++) m.addBuffer([], [4], t);
    const heads = [dev.popChain()!.id, dev.popChain()!.id, dev.popChain()!.id];
    const state = (dev as SplitQueueDevice).state();
    const resumed = new SplitQueueDevice({ name: 'mock.q0', memory: m.memory, size: 8, inOrder: true, ...m.split, ...state });
    expect(() => resumed.addUsed(heads[1]!, 4)).toThrow(new RegExp(`the next one is head ${heads[0]}`));
    for (const h of heads) resumed.addUsed(h, 4, true);
    resumed.needsNotification();
    expect([m.getUsed()!.len, m.getUsed()!.len, m.getUsed()!.len]).toEqual([4, 4, 4]);
  });

  it('resuming past a bad head in the avail ring is a RingError, and an in-flight count above the size a ConfigError', () => {
    const m = new MockDriver({ kind: 'split', size: 4, inOrder: true });
    m.publish(9);
    expect(() => new SplitQueueDevice({ name: 'q', memory: m.memory, size: 4, inOrder: true, ...m.split, nextAvail: 1, nextUsed: 0 })).toThrow(RingError);
    expect(() => new SplitQueueDevice({ name: 'q', memory: m.memory, size: 4, inOrder: true, ...m.split, nextAvail: 5, nextUsed: 0 })).toThrow(ConfigError);
  });
});

describe('IN_ORDER: the driver uses descriptors in ring order', () => {
  it('chains take the next descriptors, next = x + 1 and 0 after the last (§2.7.5)', () => {
    const m = new MockDriver<number>({ kind: 'split', size: 4, inOrder: true });
    const dev = m.device();
    const desc = (i: number) => ({ flags: m.peekU16(m.split.descTable + i * VIRTQ_DESC_SIZE + 12), next: m.peekU16(m.split.descTable + i * VIRTQ_DESC_SIZE + 14) });
    m.addBuffer([new Uint8Array(2)], [], 0); // descriptor 0
    const c0 = dev.popChain()!;
    expect(c0.id).toBe(0);
    dev.addUsed(c0.id, 0);
    m.getUsed();
    m.addBuffer([new Uint8Array(2), new Uint8Array(2)], [4], 1); // descriptors 1, 2, 3
    const c1 = dev.popChain()!;
    expect(c1.id).toBe(1);
    expect([desc(1), desc(2), desc(3)]).toEqual([
      { flags: 1, next: 2 },
      { flags: 1, next: 3 },
      { flags: 2, next: 0 },
    ]);
    expect(m.driver.numFree).toBe(1);
    dev.addUsed(c1.id, 4);
    m.getUsed();
    expect(m.addBuffer([new Uint8Array(2), new Uint8Array(2)], [], 3)).toBe(true); // descriptors 0, 1
    const c2 = dev.popChain()!;
    expect(c2.id).toBe(0);
    expect(desc(0)).toEqual({ flags: 1, next: 1 });
    // a chain across the end of the table: 3 then 0 (next 0 after the last descriptor)
    const m2 = new MockDriver<number>({ kind: 'split', size: 4, inOrder: true });
    const dev2 = m2.device();
    for (let t = 0; t < 3; t++) m2.addBuffer([new Uint8Array(1)], [], t);
    for (let t = 0; t < 3; t++) {
      const c = dev2.popChain()!;
      dev2.addUsed(c.id, 0);
      m2.getUsed();
    }
    m2.addBuffer([new Uint8Array([7]), new Uint8Array([8])], [], 9);
    const wrap = dev2.popChain()!;
    expect(wrap.id).toBe(3);
    expect(m2.peekU16(m2.split.descTable + 3 * VIRTQ_DESC_SIZE + 14)).toBe(0);
    expect(Array.from(wrap.reader().readAll())).toEqual([7, 8]);
  });

  it('a second lap with the same buffers leaves unchanged descriptor fields unwritten; a changed field is written', () => {
    const m = new MockDriver<number>({ kind: 'split', size: 2, inOrder: true });
    const dev = m.device();
    const seg = { addr: m.alloc(64), len: 64 };
    const lap = (len: number) => {
      expect(m.driver.add([{ ...seg, len }], [], { token: 0, readable: [], writable: [] } as never)).toBe(true);
      const c = dev.popChain()!;
      dev.addUsed(c.id, 0);
      m.driver.getUsed();
      return c;
    };
    lap(64);
    lap(64);
    // descriptor 0's `next` (ignored without NEXT) is overwritten behind the driver's back
    m.pokeU16(m.split.descTable + 14, 0x7777);
    const c = lap(64);
    expect(c.id).toBe(0);
    expect(m.peekU16(m.split.descTable + 14)).toBe(0x7777); // not written again
    lap(64);
    const shorter = lap(10); // descriptor 0 again, with a new length
    expect(shorter.len(0)).toBe(10);
  });

  it('a device naming a buffer that is not among the next in flight fails the ring', () => {
    const { m, dev } = inOrderRing(8);
    for (let t = 0; t < 3; t++) m.addBuffer([new Uint8Array([t])], [], t);
    const heads = [dev.popChain()!.id, dev.popChain()!.id, dev.popChain()!.id];
    // one buffer used, but the element names the third: a batch longer than the used index allows
    m.pokeU32(m.split.usedRing + VIRTQ_USED_RING, heads[2]!);
    m.pokeU16(m.split.usedRing + 2, 1);
    expect(() => m.getUsed()).toThrow(RingError);
    expect(() => m.getUsed()).toThrow(/is not one of the next 1 buffers in flight/);

    const b = inOrderRing(8);
    b.m.addBuffer([new Uint8Array([1])], [], 1);
    b.dev.popChain();
    b.m.pokeU32(b.m.split.usedRing + VIRTQ_USED_RING, 6); // never added
    b.m.pokeU16(b.m.split.usedRing + 2, 1);
    expect(() => b.m.getUsed()).toThrow(/used.ring\[0\].id 6 is not one of the next 1 buffers in flight/);
  });

  it('the packed driver refuses IN_ORDER', () => {
    const memory = RegionMemory.create(0x10000, 1 << 16);
    expect(() => new PackedQueueDriver({ name: 'p', memory, size: 4, inOrder: true, descRing: 0x10000, driverEvent: 0x10100, deviceEvent: 0x10104 })).toThrow(ConfigError);
  });
});
