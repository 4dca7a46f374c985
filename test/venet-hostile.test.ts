import { describe, expect, it } from 'vitest';
import { IOQ_IDX_HEAD, IOQ_OFF_IDX_INUSE, le, type GuestAllocator } from '@vbus/core';
import {
  VENET_CAP_SG,
  VENET_SG_OFF_COUNT,
  VENET_SG_OFF_IOV,
  VENET_SG_OFF_LEN,
  VENET_IOV_OFF_LEN,
  VENET_IOV_OFF_PTR,
  VENET_SG_OFF_FLAGS,
  venetSgSize,
  VenetDriver,
  type VenetDevice,
} from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { addVenet, inProcessGuest, MEM_BASE, MEM_BYTES, newVenetBus, settle, testFrame, type InProcessGuest } from './fixtures/venet-harness.js';
import { SEND_MORE, SEND_NOW } from '@vbus/net';

type Attack = (d: VenetDriver, g: InProcessGuest) => void;

/** Write an SG descriptor with the given iovs into fresh guest memory and post it on tx. */
function postSg(d: VenetDriver, alloc: GuestAllocator, fields: { count: number; len: number; iov: { len: number; ptr: number }[]; flags?: number; descLen?: number }): void {
  const size = venetSgSize(Math.max(1, fields.iov.length));
  const at = alloc.alloc(size, 8);
  const b = d.conn.memory.view(at, size);
  b.fill(0);
  le.setU32(b, VENET_SG_OFF_LEN, fields.len);
  le.setU32(b, VENET_SG_OFF_COUNT, fields.count);
  le.setU32(b, VENET_SG_OFF_FLAGS, fields.flags ?? 0);
  fields.iov.forEach((v, k) => {
    le.setU32(b, VENET_SG_OFF_IOV + k * 16 + VENET_IOV_OFF_LEN, v.len);
    le.setU64(b, VENET_SG_OFF_IOV + k * 16 + VENET_IOV_OFF_PTR, v.ptr);
  });
  d.tx.post(at, fields.descLen ?? size, 99);
  d.tx.kick();
}

const OUTSIDE = MEM_BASE + MEM_BYTES + 0x1000;

const attacks: { name: string; sg: boolean; rule: RegExp; attack: Attack }[] = [
  { name: 'plain: ptr outside guest memory', sg: false, rule: /tx index 0: frame at .* outside guest memory/, attack: (d) => (d.tx.post(OUTSIDE, 64, 0), d.tx.kick()) },
  { name: 'plain: ptr near 2^64', sg: false, rule: /outside guest memory/, attack: (d) => (d.tx.post(2 ** 60, 64, 0), d.tx.kick()) },
  { name: 'plain: length over the MTU', sg: false, rule: /frame length must be in \[14, 1518\]/, attack: (d) => (d.tx.post(MEM_BASE, 70000, 0), d.tx.kick()) },
  { name: 'plain: zero length', sg: false, rule: /frame length/, attack: (d) => (d.tx.post(MEM_BASE, 0, 0), d.tx.kick()) },
  {
    name: 'SG: count huge',
    sg: true,
    rule: /SG count must be in \[1, 64\] \(value 4294967295\)/,
    attack: (d, g) => postSg(d, g.allocator, { count: 0xffff_ffff, len: 64, iov: [{ len: 64, ptr: MEM_BASE }] }),
  },
  {
    name: 'SG: count larger than the descriptor',
    sg: true,
    rule: /SG count 40 needs/,
    attack: (d, g) => postSg(d, g.allocator, { count: 40, len: 64, iov: [{ len: 64, ptr: MEM_BASE }] }),
  },
  {
    name: 'SG: iov out of bounds',
    sg: true,
    rule: /SG iov 1 at .* outside guest memory/,
    attack: (d, g) =>
      postSg(d, g.allocator, {
        count: 2,
        len: 128,
        iov: [
          { len: 64, ptr: MEM_BASE },
          { len: 64, ptr: OUTSIDE },
        ],
      }),
  },
  {
    name: 'SG: iov lengths overflow the frame length',
    sg: true,
    rule: /add up to more than the frame length/,
    attack: (d, g) =>
      postSg(d, g.allocator, {
        count: 2,
        len: 64,
        iov: [
          { len: 64, ptr: MEM_BASE },
          { len: 0xffff_ffff, ptr: MEM_BASE },
        ],
      }),
  },
  {
    name: 'SG: unknown flags',
    sg: true,
    rule: /SG flags may only contain/,
    attack: (d, g) => postSg(d, g.allocator, { count: 1, len: 64, flags: 0x80, iov: [{ len: 64, ptr: MEM_BASE }] }),
  },
  {
    name: 'SG: GSO without negotiating TSO',
    sg: true,
    rule: /without negotiating/,
    attack: (d, g) => postSg(d, g.allocator, { count: 1, len: 64, flags: 2, iov: [{ len: 64, ptr: MEM_BASE }] }),
  },
  {
    name: 'SG: descriptor pointer outside memory',
    sg: true,
    rule: /SG descriptor at .* outside guest memory/,
    attack: (d) => (d.tx.post(OUTSIDE, venetSgSize(1), 0), d.tx.kick()),
  },
  {
    name: 'ring header corrupted (inuse head past count)',
    sg: false,
    rule: /ring venet0\.tx header: idx\[1\]\.head must be below count/,
    attack: (d) => {
      d.send(testFrame(0), SEND_MORE);
      const at = d.tx.ioq.address + IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD;
      d.conn.memory.int32(at, 1)[0] = 5000;
      d.tx.kick();
    },
  },
  {
    name: 'rx buffer outside guest memory',
    sg: false,
    rule: /ring venet0\.rx index \d+: rx buffer at .* outside guest memory/,
    attack: (d) => {
      // rewrite the ptr of the next rx descriptor the device will use
      const slot = 0;
      le.setU64(d.rx.ioq.bytes, d.rx.ioq.descOffset(slot) + 8, OUTSIDE);
    },
  },
];

describe('hostile guests: venet fails alone, with a clear error', () => {
  for (const a of attacks) {
    it(a.name, async () => {
      const bus = newVenetBus();
      const evil = new CaptureBackend();
      const good = new CaptureBackend();
      addVenet(bus, 'venet0', { backend: evil });
      addVenet(bus, 'venet1', { backend: good });
      const failures: string[] = [];
      bus.on('device-failed', (info, err) => failures.push(`${info.name}: ${err.message}`));
      const g0 = inProcessGuest(bus, 'venet0');
      const g1 = inProcessGuest(bus, 'venet1');
      const d0 = await VenetDriver.open(g0.conn, g0.allocator, { sg: a.sg ? VENET_CAP_SG : 0, eventq: 0 });
      const d1 = await VenetDriver.open(g1.conn, g1.allocator, { eventq: 0 });
      let closeReason = '';
      g0.conn.once('close', (r) => (closeReason = r));
      a.attack(d0, g0);
      evil.inject(testFrame(1)); // the rx attack needs a frame to land
      await settle(() => failures.length > 0);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/^venet0: /);
      expect(failures[0]).toMatch(a.rule);
      expect(bus.status('venet0').state).toBe('failed');
      expect(closeReason).toMatch(/device failed/);
      expect(evil.inject(testFrame(2))).toBe(false);
      // the other NIC keeps moving frames both ways
      let got = 0;
      d1.onFrame = () => got++;
      for (let i = 0; i < 20; i++) d1.send(testFrame(i), i < 19 ? SEND_MORE : SEND_NOW);
      for (let i = 0; i < 20; i++) good.inject(testFrame(i));
      await settle(() => got === 20 && d1.txInFlight === 0);
      expect(good.frames.length).toBe(20);
      expect(got).toBe(20);
      expect(bus.status('venet1').state).toBe('ready');
      expect(bus.device<VenetDevice>('venet0').counters()).toBeDefined();
    });
  }
});

describe('hostile guests: a pass that fails still ends its burst to the backend', () => {
  it('frames before the bad descriptor reach the backend with more, and the backend is flushed before the device fails', async () => {
    const bus = newVenetBus();
    const backend = new CaptureBackend();
    addVenet(bus, 'venet0', { backend });
    const failures: string[] = [];
    bus.on('device-failed', (info, err) => failures.push(`${info.name}: ${err.message}`));
    const g = inProcessGuest(bus, 'venet0');
    const d = await VenetDriver.open(g.conn, g.allocator, { eventq: 0 });
    d.send(testFrame(0), SEND_MORE);
    d.send(testFrame(1), SEND_MORE);
    d.tx.post(OUTSIDE, 64, 0);
    d.tx.kick();
    await settle(() => failures.length > 0);
    expect(failures[0]).toMatch(/tx index 2: frame at .* outside guest memory/);
    expect(backend.frames.map((f) => [f.frame[14], f.more])).toEqual([
      [0, true],
      [1, true],
    ]);
    // a socket backend holding the two frames for the burst's end would otherwise keep them
    expect(backend.flushes).toBe(1);
    expect(backend.burstOpen).toBe(false);
  });
});
