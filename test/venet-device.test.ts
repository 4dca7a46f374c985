import { describe, expect, it } from 'vitest';
import { le, RingError, type Bus } from '@vbus/core';
import {
  VENET_CAP_EVQ_LINKSTATE,
  VENET_CAP_EVQ_TXC,
  VENET_CAP_GROUP_EVENTQ,
  VENET_CAP_GROUP_L4RO,
  VENET_CAP_GROUP_SG,
  VENET_CAP_SG,
  VENET_CAP_TSO4,
  VENET_CAPS_SIZE,
  VENET_FUNC_LINKDOWN,
  VENET_FUNC_LINKUP,
  VENET_FUNC_MACQUERY,
  VENET_FUNC_NEGCAP,
  VENET_HOST_CAPS,
  VenetDriver,
  type VenetDevice,
} from '@vbus/venet';
import { GSO_TCPV4, SEND_MORE, SEND_NOW, newPortCounters, type NetBackend } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { addVenet, inProcessGuest, newVenetBus, settle, testFrame } from './fixtures/venet-harness.js';

function caps(gid: number, bits: number): Uint8Array {
  const b = new Uint8Array(VENET_CAPS_SIZE);
  le.setU32(b, 0, gid);
  le.setU32(b, 4, bits);
  return b;
}
const bitsOf = (r: Uint8Array) => le.getU32(r, 4);

function oneNic(config: Record<string, unknown> = {}) {
  const bus = newVenetBus();
  const backend = new CaptureBackend();
  addVenet(bus, 'venet0', { mac: '52:54:00:12:34:56', backend, ...config });
  const guest = inProcessGuest(bus, 'venet0');
  return { bus, backend, guest, device: () => bus.device<VenetDevice>('venet0') };
}

describe('venet negotiation and calls', () => {
  it('NEGCAP answers available AND requested, in the order SG, EVENTQ, L4RO', async () => {
    const { guest } = oneNic();
    const sg = await guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_SG, 0xffff_ffff));
    expect(bitsOf(sg)).toBe(VENET_HOST_CAPS[VENET_CAP_GROUP_SG]);
    const ev = await guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_EVENTQ, VENET_CAP_EVQ_TXC | 0x100));
    expect(bitsOf(ev)).toBe(VENET_CAP_EVQ_TXC);
    // going back to an earlier group is out of order
    await expect(guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_SG, VENET_CAP_SG))).rejects.toThrow(/order/);
    const l4 = await guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_L4RO, 0xffff_ffff));
    expect(bitsOf(l4)).toBe(0);
  });

  it('NEGCAP with a subset gets the subset; a wrong-size argument is refused and the device stays up', async () => {
    const { guest, bus } = oneNic();
    await expect(guest.conn.call(VENET_FUNC_NEGCAP, new Uint8Array(3))).rejects.toThrow(/8 bytes/);
    const r = await guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_SG, VENET_CAP_SG | VENET_CAP_TSO4));
    expect(bitsOf(r)).toBe(VENET_CAP_SG | VENET_CAP_TSO4);
    expect(bus.status('venet0').state).toBe('ready');
  });

  it('MACQUERY returns the 6 configured bytes; a random MAC is locally administered unicast', async () => {
    const { guest } = oneNic();
    expect([...(await guest.conn.call(VENET_FUNC_MACQUERY))]).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const bus = newVenetBus();
    addVenet(bus, 'v1');
    const m = await inProcessGuest(bus, 'v1').conn.call(VENET_FUNC_MACQUERY);
    expect(m.length).toBe(6);
    expect(m[0]! & 3).toBe(2);
  });

  it('refuses NEGCAP once the link is up, LINKUP before rings exist, and bad configs', async () => {
    const { guest } = oneNic();
    await expect(guest.conn.call(VENET_FUNC_LINKUP)).rejects.toThrow(/RX .* TX .* registered/);
    const d = await VenetDriver.open(guest.conn, guest.allocator);
    expect(d.linkUp).toBe(true);
    await expect(guest.conn.call(VENET_FUNC_NEGCAP, caps(VENET_CAP_GROUP_L4RO, 1))).rejects.toThrow(/link is up/);
    const bus = newVenetBus();
    expect(() => addVenet(bus, 'x', { mtu: 10 })).toThrow(/mtu/);
    expect(() => addVenet(bus, 'x', { txCompleteEvery: 0 })).toThrow(/txCompleteEvery/);
    expect(() => addVenet(bus, 'x', { ringSize: 4096 })).toThrow(/ringSize/);
    expect(() => addVenet(bus, 'x', { mac: '01:00:5e:00:00:01' })).toThrow(/unicast/);
  });

  it('link up/down produce LINKSTATE events on the event queue', async () => {
    const { guest, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator);
    expect(d.eventqCaps).toBe(VENET_CAP_EVQ_LINKSTATE); // the default: TXC only on request
    const seen: boolean[] = [];
    d.onLink = (up) => seen.push(up);
    await settle(() => d.counters.linkEvents >= 1);
    expect(d.counters.linkEvents).toBe(1); // the LINKUP of open()
    await guest.conn.call(VENET_FUNC_LINKDOWN);
    await settle(() => seen.length >= 1);
    expect(device().attributes().link).toBe(false);
    await guest.conn.call(VENET_FUNC_LINKUP);
    await settle(() => seen.length >= 2);
    expect(seen).toEqual([false, true]);
    expect(device().attributes().link).toBe(true);
  });
});

describe('venet data path and signal economy (in-process)', () => {
  for (const sg of [0, VENET_CAP_SG]) {
    const mode = sg ? 'SG' : 'plain';
    it(`${mode}: 1 frame guest->backend costs exactly 1 kick and 1 tx-complete`, async () => {
      const { guest, backend, device } = oneNic();
      const d = await VenetDriver.open(guest.conn, guest.allocator, { sg, eventq: 0 });
      d.send(testFrame(1));
      await settle(() => d.txInFlight === 0 && d.counters.txCompletes > 0);
      expect(backend.frames.length).toBe(1);
      expect([...backend.frames[0]!.frame]).toEqual([...testFrame(1)]);
      expect(d.txSignalCounters.injected).toBe(1);
      expect(d.txSignalCounters.wakeups).toBe(1);
      const tx = device().counters().tx as Record<string, number>;
      expect(tx).toMatchObject({ frames: 1, kicks: 1, interrupts: 1, suppressed: 0, drops: 0 });
    });

    it(`${mode}: a drain pass reaches the backend as one burst: every frame with more, then one flush`, async () => {
      const { guest, backend } = oneNic();
      const d = await VenetDriver.open(guest.conn, guest.allocator, { sg, eventq: 0 });
      for (let i = 0; i < 100; i++) d.send(testFrame(i), i < 99 ? SEND_MORE : SEND_NOW);
      await settle(() => d.txInFlight === 0);
      expect(backend.frames.length).toBe(100);
      expect(backend.frames.every((f) => f.more)).toBe(true);
      // one kick, one pass: the burst ends once, and nothing stays held for a later flush
      expect(backend.flushes).toBe(1);
      expect(backend.burstOpen).toBe(false);
    });

    for (const n of [1, 10, 25]) {
      it(`${mode}: a burst of 100 sent with more costs 1 kick and ceil(100/${n}) tx-complete signals raised`, async () => {
        const { guest, backend, device } = oneNic({ txCompleteEvery: n });
        const d = await VenetDriver.open(guest.conn, guest.allocator, { sg, eventq: 0 });
        for (let i = 0; i < 100; i++) expect(d.send(testFrame(i), i < 99 ? SEND_MORE : SEND_NOW)).toBe(true);
        await settle(() => d.txInFlight === 0);
        expect(backend.frames.length).toBe(100);
        expect(backend.frames.map((f) => f.frame[14]! | (f.frame[15]! << 8))).toEqual([...Array(100).keys()]);
        expect(d.txSignalCounters.injected).toBe(1);
        const tx = device().counters().tx as Record<string, number>;
        expect(tx.kicks).toBe(1);
        // raised = crossed + suppressed by the guest's pending state: exactly one per N frames
        expect(tx.interrupts! + tx.suppressed!).toBe(Math.ceil(100 / n));
        expect(tx.interrupts).toBeGreaterThanOrEqual(1);
        expect(d.txSignalCounters.wakeups).toBe(tx.interrupts);
        expect(d.txSignalCounters.wakeups).toBeLessThanOrEqual(Math.ceil(100 / n));
      });
    }
  }

  for (const sg of [0, VENET_CAP_SG]) {
    it(`${sg ? 'SG' : 'plain'}: the backend gets a private copy of a transmitted frame, never a view of guest memory`, async () => {
      // the guest may rewrite its buffer (from another thread) after the switch checked the
      // frame's source MAC: what the backend reads must be the host's own bytes
      const seen: Array<{ shared: boolean; bytes: number[] }> = [];
      const bus = newVenetBus();
      const backend: NetBackend = {
        kind: 'probe',
        attach: (nic) => ({
          name: nic.name,
          counters: newPortCounters(),
          disconnect: () => {},
          deliver: (frame) => {
            seen.push({ shared: frame.buffer instanceof SharedArrayBuffer, bytes: [...frame] });
            return true;
          },
        }),
        close: async () => {},
      };
      addVenet(bus, 'venet0', { mac: '52:54:00:12:34:56', backend });
      const guest = inProcessGuest(bus, 'venet0');
      const d = await VenetDriver.open(guest.conn, guest.allocator, { sg, eventq: 0 });
      for (let i = 0; i < 3; i++) d.send(testFrame(i), i < 2 ? SEND_MORE : SEND_NOW);
      await settle(() => d.txInFlight === 0);
      expect(seen.map((s) => s.bytes)).toEqual([0, 1, 2].map((i) => [...testFrame(i)]));
      expect(seen.every((s) => !s.shared)).toBe(true);
    });
  }

  it('with EVENTQ TXC, completions come as TXC events, not tx-ring signals', async () => {
    const { guest, backend, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { sg: VENET_CAP_SG, eventq: VENET_CAP_EVQ_LINKSTATE | VENET_CAP_EVQ_TXC });
    expect(d.eventqCaps).toBe(VENET_CAP_EVQ_LINKSTATE | VENET_CAP_EVQ_TXC);
    await settle(() => d.counters.linkEvents === 1);
    for (let i = 0; i < 30; i++) d.send(testFrame(i), i < 29 ? SEND_MORE : SEND_NOW);
    await settle(() => d.txInFlight === 0);
    expect(backend.frames.length).toBe(30);
    expect(d.counters.txcEvents).toBe(30);
    expect(d.txSignalCounters.wakeups).toBe(0);
    const evq = device().counters().evq as Record<string, number>;
    expect(evq.frames).toBe(31); // LINKSTATE + 30 TXC
    expect(evq.interrupts! + evq.suppressed!).toBe(1 + 3); // link event + one per 10 TXC
  });

  it('SG multi-segment sends are gathered and carry their offload metadata', async () => {
    const { guest, backend } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { sg: VENET_CAP_SG | VENET_CAP_TSO4, eventq: 0 });
    const f = testFrame(7, 200);
    expect(
      d.sendv([f.subarray(0, 14), f.subarray(14, 100), f.subarray(100)], {
        offload: { needsCsum: true, csumStart: 34, csumOffset: 16, gsoType: GSO_TCPV4, gsoSize: 1448, hdrLen: 54 },
      }),
    ).toBe(true);
    await settle(() => d.txInFlight === 0);
    expect([...backend.frames[0]!.frame]).toEqual([...f]);
    expect(backend.frames[0]!.offload).toMatchObject({ needsCsum: true, csumStart: 34, csumOffset: 16, gsoType: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, ecn: false });
  });

  it('backend -> guest: every frame arrives, NAPI takes one interrupt for a burst', async () => {
    const { guest, backend, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { pollWeight: 16 });
    const got: number[] = [];
    d.onFrame = (f) => got.push(f[14]! | (f[15]! << 8));
    for (let i = 0; i < 100; i++) expect(backend.inject(testFrame(i))).toBe(true);
    await settle(() => got.length === 100);
    expect(got).toEqual([...Array(100).keys()]);
    expect(d.rxSignalCounters.wakeups).toBe(1);
    expect(d.counters.polls).toBeGreaterThanOrEqual(7);
    const rx = device().counters().rx as Record<string, number>;
    expect(rx).toMatchObject({ frames: 100, drops: 0, interrupts: 1, suppressed: 99 });
  });

  it('backend -> guest in a burst (frames with more, then flush): published and signalled once, at the end of the burst', async () => {
    const { guest, backend, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { pollWeight: 16 });
    const got: number[] = [];
    d.onFrame = (f) => got.push(f[14]! | (f[15]! << 8));
    for (let i = 0; i < 100; i++) expect(backend.inject(testFrame(i), true)).toBe(true);
    await settle();
    // nothing signalled yet (the completions past each 32nd are not even published)
    expect(got).toEqual([]);
    expect((device().counters().rx as Record<string, number>).interrupts).toBe(0);
    backend.endInjectBurst();
    await settle(() => got.length === 100);
    expect(got).toEqual([...Array(100).keys()]);
    const rx = device().counters().rx as Record<string, number>;
    // one notification raised for the burst, where 100 were raised (99 suppressed) frame by frame
    expect(rx).toMatchObject({ frames: 100, drops: 0, interrupts: 1, suppressed: 0 });
  });

  it('a burst ended by a frame without more (no flush) is signalled once, at that frame', async () => {
    const { guest, backend, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { pollWeight: 64 });
    const got: number[] = [];
    d.onFrame = (f) => got.push(f[14]! | (f[15]! << 8));
    for (let i = 0; i < 10; i++) backend.inject(testFrame(i), true);
    backend.inject(testFrame(10));
    await settle(() => got.length === 11);
    expect(got).toEqual([...Array(11).keys()]);
    expect(device().counters().rx).toMatchObject({ frames: 11, interrupts: 1, suppressed: 0 });
    // nothing left open: a flush now raises nothing
    backend.endInjectBurst();
    await settle();
    expect(device().counters().rx).toMatchObject({ interrupts: 1, suppressed: 0 });
  });

  it('a burst whose frames find no rx buffer still ends: the placed ones are signalled, the rest counted as drops', async () => {
    const { guest, backend, device } = oneNic({ ringSize: 16 });
    const d = await VenetDriver.open(guest.conn, guest.allocator, { pollWeight: 64, ringSize: 16, eventq: 0 });
    let got = 0;
    d.onFrame = () => got++;
    for (let i = 0; i < 40; i++) backend.inject(testFrame(i), true);
    backend.endInjectBurst();
    await settle(() => got === 16);
    await settle();
    const rx = device().counters().rx as Record<string, number>;
    expect(rx).toMatchObject({ frames: 16, drops: 24, interrupts: 1 });
  });

  it('replies sent from inside the rx poll leave in one batch: 100 echoed frames cost one kick', async () => {
    const { guest, backend } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { pollWeight: 128 });
    // echo every received frame back, from inside onFrame (as a responder does)
    d.onFrame = (f) => {
      d.send(f.slice());
    };
    const attempts = () => d.txSignalCounters.injected + d.txSignalCounters.suppressed;
    const kicks0 = attempts();
    for (let i = 0; i < 100; i++) backend.inject(testFrame(i));
    await settle(() => backend.frames.length === 100);
    expect(backend.frames.map((f) => f.frame[14]! | (f.frame[15]! << 8))).toEqual([...Array(100).keys()]);
    // one kick attempted for the whole poll, not one per reply (which the pending flag would
    // then have to swallow)
    expect(attempts() - kicks0).toBe(1);
  });

  it('flush() with nothing posted since the last kick sends no signal', async () => {
    const { guest } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator);
    await settle();
    const k0 = d.txSignalCounters.injected + d.txSignalCounters.suppressed;
    d.flush();
    d.flush();
    expect(d.txSignalCounters.injected + d.txSignalCounters.suppressed).toBe(k0);
    d.send(testFrame(1), SEND_MORE);
    d.flush();
    expect(d.txSignalCounters.injected + d.txSignalCounters.suppressed).toBe(k0 + 1);
  });

  it('a frame longer than a tx buffer is refused with its size, plain or in parts, and nothing is posted', async () => {
    for (const sg of [0, VENET_CAP_SG]) {
      const { guest } = oneNic();
      const d = await VenetDriver.open(guest.conn, guest.allocator, { sg, eventq: 0, bufferSize: 256 });
      await settle();
      expect(() => d.send(new Uint8Array(257))).toThrow(/frame of 257 bytes exceeds the tx buffer size 256/);
      expect(() => d.sendv([new Uint8Array(200), new Uint8Array(57)])).toThrow(/frame of 257 bytes exceeds the tx buffer size 256/);
      expect([d.txInFlight, d.counters.sent]).toEqual([0, 0]);
      // the next frame that fits goes through
      expect(d.send(new Uint8Array(256))).toBe(true);
      expect(d.counters.sent).toBe(1);
    }
  });

  it('rx ring full: frames beyond the posted buffers are counted drops; sent = delivered + dropped', async () => {
    const { guest, backend, device } = oneNic();
    const d = await VenetDriver.open(guest.conn, guest.allocator, { ringSize: 32 });
    let received = 0;
    d.onFrame = () => received++;
    let accepted = 0;
    const sent = 100;
    for (let i = 0; i < sent; i++) if (backend.inject(testFrame(i))) accepted++;
    await settle(() => received === accepted);
    const rx = device().counters().rx as Record<string, number>;
    expect(accepted).toBe(32);
    expect(received).toBe(32);
    expect(rx.drops).toBe(sent - 32);
    expect(rx.frames! + rx.drops!).toBe(sent);
    expect(backend.port!.counters.drops).toBe(sent - 32);
    // after the poll refilled, frames flow again
    expect(backend.inject(testFrame(1000))).toBe(true);
  });

  it('a frame bigger than the rx buffer is dropped and counted; link down drops too', async () => {
    const { guest, backend, device } = oneNic({ mtu: 9000 });
    const d = await VenetDriver.open(guest.conn, guest.allocator, { bufferSize: 2048 });
    expect(backend.inject(testFrame(1, 4000))).toBe(false);
    await d.linkDown();
    expect(backend.inject(testFrame(2))).toBe(false);
    expect((device().counters().rx as Record<string, number>).drops).toBe(2);
  });

  it('burst threshold: a fast burst is delivered from the device bottom half, every frame arrives', async () => {
    const { guest, backend, device } = oneNic({ burstThresholdUs: 1_000_000 });
    const d = await VenetDriver.open(guest.conn, guest.allocator);
    let got = 0;
    d.onFrame = () => got++;
    for (let i = 0; i < 50; i++) expect(backend.inject(testFrame(i))).toBe(true);
    await settle(() => got === 50);
    expect(got).toBe(50);
    const rx = device().counters().rx as Record<string, number>;
    // first frame inline, the other 49 in one deferred batch: two rx signals raised
    expect(rx.interrupts! + rx.suppressed!).toBe(2);
  });

  it('no backend: transmitted frames are dropped and counted', async () => {
    const bus = newVenetBus();
    addVenet(bus, 'v');
    const g = inProcessGuest(bus, 'v');
    const d = await VenetDriver.open(g.conn, g.allocator);
    for (let i = 0; i < 5; i++) d.send(testFrame(i), i < 4 ? SEND_MORE : SEND_NOW);
    await settle(() => d.txInFlight === 0);
    expect((bus.device<VenetDevice>('v').counters().tx as Record<string, number>).drops).toBe(5);
  });
});

export type { Bus, RingError };
