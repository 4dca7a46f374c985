import { describe, expect, it } from 'vitest';
import { RegionMemory, RingError, type GuestMemory } from '@vbus/core';
import { MockDriver } from '../../testing/index.js';
import { SplitQueueDevice } from './split-queue-device.js';
import { VIRTQ_DESC_F_INDIRECT as IND, VIRTQ_DESC_F_NEXT as NEXT, VIRTQ_DESC_F_WRITE as WRITE } from './layout.js';
import type { VirtqueueDevice } from './virtqueue.js';

const BUF = 0x80000; // inside the mock's memory (base 0x10000, >1 MiB)

function expectFail(dev: VirtqueueDevice, rule: RegExp, index?: number): RingError {
  let err: unknown;
  try {
    dev.popChain();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RingError);
  const r = err as RingError;
  expect(r.ring).toBe(dev.name);
  expect(r.rule).toMatch(rule);
  if (index !== undefined) expect(r.index).toBe(index);
  expect(r.message).toContain(dev.name);
  // the queue stays failed: every later ring operation repeats the error
  expect(dev.failed).toBe(true);
  expect(dev.error).toBe(r);
  expect(() => dev.popChain()).toThrow(r);
  expect(() => dev.addUsed(0, 0)).toThrow(r);
  expect(() => dev.needsNotification()).toThrow(r);
  expect(dev.hasAvailable()).toBe(false);
  return r;
}

function splitMock(opts: { size?: number; indirect?: boolean } = {}) {
  const m = new MockDriver({ kind: 'split', size: opts.size ?? 8, indirect: opts.indirect ?? false, name: 'evil.q0' });
  return { m, dev: m.device() };
}

describe('hostile driver, split ring', () => {
  it('a loop in the chain', () => {
    const { m, dev } = splitMock();
    m.writeDescriptor(0, { addr: BUF, len: 1, flags: NEXT, next: 1 });
    m.writeDescriptor(1, { addr: BUF, len: 1, flags: NEXT, next: 0 });
    m.publish(0);
    expectFail(dev, /loops/, 0);
  });

  it('a chain that visits every descriptor and then one more (longer than the queue size)', () => {
    const { m, dev } = splitMock({ size: 4 });
    for (let i = 0; i < 4; i++) m.writeDescriptor(i, { addr: BUF, len: 1, flags: NEXT, next: (i + 1) % 4 });
    m.publish(0);
    expectFail(dev, /loops.*queue-size/, 0);
  });

  it('next and head indices out of range', () => {
    const a = splitMock();
    a.m.writeDescriptor(0, { addr: BUF, len: 1, flags: NEXT, next: 8 });
    a.m.publish(0);
    expectFail(a.dev, /next 8/, 0);
    const b = splitMock();
    b.m.publish(8);
    expectFail(b.dev, /head index 8/, 0);
  });

  it('addresses and lengths outside guest memory', () => {
    for (const [addr, len] of [
      [0, 16],
      [0x10000 - 1, 2],
      [BUF, 0x200000],
      [2 ** 53, 1],
      [2 ** 64 - 1, 1],
    ] as const) {
      const { m, dev } = splitMock();
      m.writeDescriptor(0, { addr, len, flags: 0, next: 0 });
      m.publish(0);
      expectFail(dev, /outside guest memory/, 0);
    }
  });

  it('an avail index more than the queue size ahead', () => {
    const { m, dev } = splitMock();
    m.setAvailIdx(9);
    expectFail(dev, /more than the queue size/, -1);
    const ok = splitMock();
    ok.m.writeDescriptor(0, { addr: BUF, len: 1, flags: 0, next: 0 });
    for (let i = 0; i < 8; i++) ok.m.publish(0); // exactly N ahead is allowed
    for (let i = 0; i < 8; i++) expect(ok.dev.popChain()).not.toBeNull();
    expect(ok.dev.popChain()).toBeNull();
  });

  it('a device-readable descriptor after a device-writable one', () => {
    const { m, dev } = splitMock();
    m.writeDescriptor(0, { addr: BUF, len: 1, flags: NEXT | WRITE, next: 1 });
    m.writeDescriptor(1, { addr: BUF, len: 1, flags: 0, next: 0 });
    m.publish(0);
    expectFail(dev, /readable after a device-writable/, 1);
  });

  it('indirect tables: not negotiated, with NEXT, bad lengths, nested, outside memory, loops, bad next', () => {
    const cases: Array<[string, (m: MockDriver) => void, RegExp, boolean?]> = [
      [
        'not negotiated',
        (m) => m.writeDescriptor(0, { addr: m.writeIndirectTable([{ addr: BUF, len: 1, flags: 0, next: 0 }]), len: 16, flags: IND, next: 0 }),
        /not negotiated/,
        false,
      ],
      [
        'INDIRECT|NEXT',
        (m) => m.writeDescriptor(0, { addr: m.writeIndirectTable([{ addr: BUF, len: 1, flags: 0, next: 0 }]), len: 16, flags: IND | NEXT, next: 1 }),
        /both INDIRECT and NEXT/,
      ],
      [
        'length 17',
        (m) =>
          m.writeDescriptor(0, {
            addr: m.writeIndirectTable([
              { addr: BUF, len: 1, flags: 0, next: 0 },
              { addr: BUF, len: 1, flags: 0, next: 0 },
            ]),
            len: 17,
            flags: IND,
            next: 0,
          }),
        /multiple of 16/,
      ],
      ['length 0', (m) => m.writeDescriptor(0, { addr: BUF, len: 0, flags: IND, next: 0 }), /multiple of 16/],
      ['outside memory', (m) => m.writeDescriptor(0, { addr: 0x1000, len: 32, flags: IND, next: 0 }), /indirect table .* outside guest memory/],
      ['too long', (m) => m.writeDescriptor(0, { addr: BUF, len: 16 * 32769, flags: IND, next: 0 }), /more than 32768/],
      [
        'nested',
        (m) => {
          const inner = m.writeIndirectTable([{ addr: BUF, len: 1, flags: 0, next: 0 }]);
          m.writeDescriptor(0, { addr: m.writeIndirectTable([{ addr: inner, len: 16, flags: IND, next: 0 }]), len: 16, flags: IND, next: 0 });
        },
        /nested/,
      ],
      [
        'loop inside',
        (m) =>
          m.writeDescriptor(0, {
            addr: m.writeIndirectTable([
              { addr: BUF, len: 1, flags: NEXT, next: 1 },
              { addr: BUF, len: 1, flags: NEXT, next: 0 },
            ]),
            len: 32,
            flags: IND,
            next: 0,
          }),
        /indirect descriptor 0 is visited twice/,
      ],
      [
        'next outside the table',
        (m) =>
          m.writeDescriptor(0, {
            addr: m.writeIndirectTable([
              { addr: BUF, len: 1, flags: NEXT, next: 2 },
              { addr: BUF, len: 1, flags: 0, next: 0 },
            ]),
            len: 32,
            flags: IND,
            next: 0,
          }),
        /next 2, not below the table length 2/,
      ],
      [
        'buffer outside memory',
        (m) => m.writeDescriptor(0, { addr: m.writeIndirectTable([{ addr: 8, len: 1, flags: 0, next: 0 }]), len: 16, flags: IND, next: 0 }),
        /indirect descriptor 0 buffer .* outside/,
      ],
    ];
    for (const [, setup, rule, indirect] of cases) {
      const { m, dev } = splitMock({ indirect: indirect ?? true });
      setup(m);
      m.publish(0);
      expectFail(dev, rule);
    }
  });

  it('a total length past 2^32 - 1 (over a memory that maps 2^40 bytes)', () => {
    const ring = RegionMemory.create(0x1000, 0x10000);
    const huge: GuestMemory = {
      view: (a, l) => ring.view(a, l),
      read: (a, l) => ring.read(a, l),
      write: (a, b) => ring.write(a, b),
      copyOut: (a, t, o, l) => ring.copyOut(a, t, o, l),
      copyIn: (a, s, o, l) => ring.copyIn(a, s, o, l),
      copyWithin: (d, s, l) => ring.copyWithin(d, s, l),
      int32: (a, c) => ring.int32(a, c),
      regions: () => ring.regions(),
      contains: (a, l) => ring.contains(a, l) || (a >= 2 ** 40 && a + l <= 2 ** 41),
    };
    const dev = new SplitQueueDevice({ name: 'big', memory: huge, size: 4, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 });
    const d = ring.view(0x1000, 64);
    const put = (i: number, len: number, flags: number, next: number) => {
      new DataView(d.buffer, d.byteOffset + 16 * i).setBigUint64(0, 2n ** 40n, true);
      new DataView(d.buffer, d.byteOffset + 16 * i).setUint32(8, len, true);
      new DataView(d.buffer, d.byteOffset + 16 * i).setUint16(12, flags, true);
      new DataView(d.buffer, d.byteOffset + 16 * i).setUint16(14, next, true);
    };
    put(0, 0xffff_ffff, NEXT, 1);
    put(1, 1, 0, 0);
    ring.view(0x2000, 6).set([0, 0, 1, 0, 0, 0]);
    expectFail(dev, /exceeds 2\^32 - 1/, 1);
  });

  it('the check is made on a copy: rewriting the table after the pop changes nothing', () => {
    const { m, dev } = splitMock();
    m.writeDescriptor(0, { addr: BUF, len: 4, flags: 0, next: 0 });
    m.publish(0);
    const c = dev.popChain()!;
    m.writeDescriptor(0, { addr: 0, len: 0xffff_ffff, flags: WRITE, next: 0 });
    expect([c.addr(0), c.len(0), c.isWritable(0)]).toEqual([BUF, 4, false]);
  });
});

describe('hostile driver, packed ring', () => {
  const AV = MockDriver.packedAvail(1);
  function packedMock(size = 4, indirect = false) {
    const m = new MockDriver({ kind: 'packed', size, indirect, name: 'evil.p0' });
    return { m, dev: m.device() };
  }

  it('a buffer id not below the queue size', () => {
    const { m, dev } = packedMock();
    m.writePackedDescriptor(0, { addr: BUF, len: 1, id: 4, flags: AV });
    expectFail(dev, /buffer id 4 .* not below/, 0);
  });

  it('a buffer id already in flight', () => {
    const { m, dev } = packedMock();
    m.writePackedDescriptor(0, { addr: BUF, len: 1, id: 2, flags: AV });
    m.writePackedDescriptor(1, { addr: BUF, len: 1, id: 2, flags: AV });
    expect(dev.popChain()!.id).toBe(2);
    expectFail(dev, /already in flight/, 1);
  });

  it('a chain longer than the queue size', () => {
    const { m, dev } = packedMock();
    for (let i = 0; i < 4; i++) m.writePackedDescriptor(i, { addr: BUF, len: 1, id: 0, flags: AV | NEXT });
    // after the wrap the slots would have to carry the other wrap counter: make them look available too
    expectFail(dev, /longer than the queue size/, 0);
    const b = packedMock(3);
    b.m.writePackedDescriptor(1, { addr: BUF, len: 1, id: 0, flags: AV | NEXT });
    b.m.writePackedDescriptor(2, { addr: BUF, len: 1, id: 0, flags: AV | NEXT });
    b.m.writePackedDescriptor(0, { addr: BUF, len: 1, id: 0, flags: AV | NEXT });
    expectFail(b.dev, /longer than the queue size/, 0);
  });

  it('a chained descriptor that is not available', () => {
    const { m, dev } = packedMock();
    m.writePackedDescriptor(0, { addr: BUF, len: 1, id: 0, flags: AV | NEXT });
    expectFail(dev, /continues a chain but is not available/, 1);
  });

  it('outside memory, readable after writable, indirect misuse', () => {
    const cases: Array<[(m: MockDriver) => void, RegExp, boolean]> = [
      [(m) => m.writePackedDescriptor(0, { addr: 0, len: 8, id: 0, flags: AV }), /outside guest memory/, false],
      [
        (m) => {
          m.writePackedDescriptor(1, { addr: BUF, len: 1, id: 0, flags: AV });
          m.writePackedDescriptor(0, { addr: BUF, len: 1, id: 0, flags: AV | NEXT | WRITE });
        },
        /readable after a device-writable/,
        false,
      ],
      [(m) => m.writePackedDescriptor(0, { addr: m.writeIndirectTable([{ addr: BUF, len: 1, flags: 0, next: 0 }]), len: 16, id: 0, flags: AV | IND }), /not negotiated/, false],
      [(m) => m.writePackedDescriptor(0, { addr: m.writeIndirectTable([{ addr: BUF, len: 1, flags: 0, next: 0 }]), len: 20, id: 0, flags: AV | IND }), /multiple of 16/, true],
      [(m) => m.writePackedDescriptor(0, { addr: BUF, len: 16, id: 0, flags: AV | IND | NEXT }), /both INDIRECT and NEXT/, true],
      [(m) => m.writePackedDescriptor(0, { addr: m.writeIndirectTable([{ addr: BUF, len: 16, flags: IND, next: 0 }]), len: 16, id: 0, flags: AV | IND }), /nested/, true],
      [(m) => m.writePackedDescriptor(0, { addr: 0x100, len: 16, id: 0, flags: AV | IND }), /indirect table .* outside/, true],
    ];
    for (const [setup, rule, indirect] of cases) {
      const { m, dev } = packedMock(4, indirect);
      setup(m);
      expect(dev.hasAvailable(), String(rule)).toBe(true);
      expectFail(dev, rule);
    }
  });

  it('descriptors that are not available (wrong wrap bits) are simply not there', () => {
    const { m, dev } = packedMock();
    m.writePackedDescriptor(0, { addr: 0, len: 1, id: 9, flags: MockDriver.packedAvail(0) });
    expect(dev.popChain()).toBeNull();
    m.writePackedDescriptor(0, { addr: 0, len: 1, id: 9, flags: (1 << 7) | (1 << 15) });
    expect(dev.popChain()).toBeNull();
    expect(dev.failed).toBe(false);
  });
});

describe('hostile device, as seen by the drivers', () => {
  it('a used id that is not in flight fails the driver', () => {
    for (const kind of ['split', 'packed'] as const) {
      const m = new MockDriver({ kind, size: 4, name: 'drv' });
      const dev = m.device();
      m.addBuffer([new Uint8Array(1)], [], 0);
      const c = dev.popChain()!;
      dev.addUsed(c.id, 0);
      // rewrite the id the device published
      if (kind === 'split') m.pokeU32(m.split.usedRing + 4, 3);
      else m.pokeU16(m.packed.descRing + 12, 3);
      expect(() => m.driver.getUsed()).toThrow(RingError);
      expect(m.driver.failed).toBe(true);
    }
  });
});
