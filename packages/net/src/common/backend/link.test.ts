// Link models on switch ports and patch cables: latency, bandwidth and a bounded queue, exact in
// virtual time and working with real timers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, MicrotaskScheduler, VirtualTimeScheduler, createVbus } from '@vbus/core';
import { NetBackendRegistry } from './backend-registry.js';
import { netModule } from '../../net-module.js';
import { LearningSwitch } from './learning-switch.js';
import { connectBackends } from './patch-cable.js';
import { LinkLane } from './link.js';
import type { FrameOffload, FrameSink } from './net-backend.js';
import { GuestResponder } from '../responder/guest-responder.js';
import { parseMac } from '../packet/index.js';

const mac = (n: number): Uint8Array => Uint8Array.of(0x02, 0, 0, 0, 0, n);

/** Records each frame's arrival time in virtual ns (or real ms) and its tag byte. */
class Arrivals implements FrameSink {
  readonly log: Array<{ at: number; tag: number; length: number; offload: FrameOffload | undefined }> = [];
  constructor(private readonly now: () => number) {}
  deliver(frame: Uint8Array, offload?: FrameOffload): boolean {
    this.log.push({ at: this.now(), tag: frame[14]!, length: frame.length, offload });
    return true;
  }
}

function frame(dst: Uint8Array, src: Uint8Array, tag: number, length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

/** A switch in virtual time; port "b" has `link`, port "a" is an ideal wire. */
function twoPorts(link: ConstructorParameters<typeof LearningSwitch>[0] extends infer O ? (O extends { link?: infer L } ? Exclude<L, (...a: never[]) => unknown> : never) : never) {
  const vts = new VirtualTimeScheduler();
  const sw = new LearningSwitch({ scheduler: vts });
  const atA = new Arrivals(() => vts.nowNs);
  const atB = new Arrivals(() => vts.nowNs);
  const a = sw.attach({ name: 'a', mac: mac(1) }, atA);
  const b = sw.attach({ name: 'b', mac: mac(2) }, atB, { link });
  // b announces itself through its link, so the switch learns it (1 frame, then time moves on)
  b.deliver(frame(mac(1), mac(2), 0xff, 60));
  vts.runUntilIdle();
  atA.log.length = 0;
  return { vts, sw, a, b, atA, atB };
}

describe('link models', () => {
  it('a frame of N bytes on a 100 Mbit/s link with 1 ms latency arrives exactly at t + 8N/rate + 1 ms of virtual time', () => {
    for (const n of [60, 1000, 1514]) {
      const { vts, a, atB } = twoPorts({ delayMs: 1, bitsPerSecond: 100e6 });
      vts.runUntil(vts.now() + 0.25);
      const t0 = vts.nowNs;
      expect(a.deliver(frame(mac(2), mac(1), 7, n))).toBe(true);
      const expectedNs = t0 + n * 80 + 1_000_000; // 8 bits / 100 Mbit/s = 80 ns per byte
      vts.runUntil((expectedNs - 1) / 1e6);
      expect(atB.log).toEqual([]);
      vts.runUntil(expectedNs / 1e6);
      expect(atB.log).toEqual([{ at: expectedNs, tag: 7, length: n, offload: undefined }]);
    }
  });

  it('back-to-back frames are serialized one after another: arrivals spaced by 8N/rate exactly, in order', () => {
    const { vts, a, atB, sw } = twoPorts({ delayMs: 1, bitsPerSecond: 100e6 });
    const t0 = vts.nowNs;
    for (let i = 0; i < 5; i++) expect(a.deliver(frame(mac(2), mac(1), i, 1500))).toBe(true);
    vts.runUntilIdle();
    expect(atB.log.map((e) => e.at - t0)).toEqual([1, 2, 3, 4, 5].map((k) => k * 120_000 + 1_000_000));
    expect(atB.log.map((e) => e.tag)).toEqual([0, 1, 2, 3, 4]);
    const b = sw.ports().find((p) => p.name === 'b')!;
    expect(b.link!.model).toEqual({ delayMs: 1, bitsPerSecond: 100e6, queueFrames: 1000 });
    expect(b.link!.toNic).toMatchObject({ frames: 5, bytes: 7500, drops: 0, inFlight: 0, maxQueued: 4 });
    expect(b.counters).toMatchObject({ rxFrames: 5, rxBytes: 7500, drops: 0 });
  });

  it('a full queue drops the frame and counts it, on the link and on the port; the rest arrive', () => {
    const { vts, a, atB, sw } = twoPorts({ bitsPerSecond: 1e6, queueFrames: 2 });
    // one frame being sent, two waiting: the other seven find the queue full
    for (let i = 0; i < 10; i++) a.deliver(frame(mac(2), mac(1), i, 125));
    vts.runUntilIdle();
    expect(atB.log.map((e) => e.tag)).toEqual([0, 1, 2]);
    const b = sw.ports().find((p) => p.name === 'b')!;
    expect(b.link!.toNic).toMatchObject({ frames: 3, drops: 7, maxQueued: 2 });
    expect(b.counters.drops).toBe(7);
    // 125 bytes at 1 Mbit/s: 1 ms each, one after another
    expect(atB.log.map((e) => e.at - atB.log[0]!.at)).toEqual([0, 1_000_000, 2_000_000]);
  });

  it('each direction of a port is its own link: a ping across two 1 ms ports takes exactly 4 ms of virtual time', async () => {
    const vts = new VirtualTimeScheduler();
    const sw = new LearningSwitch({ scheduler: vts, link: (nic) => (nic.name === 'x' || nic.name === 'y' ? { delayMs: 1 } : undefined) });
    const x = new GuestResponder({ mac: parseMac('02:00:00:00:00:0a'), ip: '192.0.2.10', name: 'x', scheduler: vts });
    const y = new GuestResponder({ mac: parseMac('02:00:00:00:00:0b'), ip: '192.0.2.11', name: 'y', scheduler: vts });
    const px = sw.attach({ name: 'x', mac: x.mac }, x);
    const py = sw.attach({ name: 'y', mac: y.mac }, y);
    x.setTransmit((f) => px.deliver(f));
    y.setTransmit((f) => py.deliver(f));
    let reply: Awaited<ReturnType<GuestResponder['ping']>> | undefined;
    void x.ping('192.0.2.11', 56).then((r) => (reply = r));
    for (let i = 0; i < 100 && reply === undefined; i++) {
      await Promise.resolve();
      vts.step();
    }
    expect(reply?.rttMs).toBe(4);
    // the ARP exchange took 4 ms before it: the echo left at 4 ms and came back at 8 ms
    expect(vts.now()).toBe(8);
    expect(sw.ports().map((p) => p.link?.toSwitch.frames)).toEqual([2, 2]);
    x.close();
    y.close();
  });

  it('a patch cable models a link in each direction, between two switches', () => {
    const vts = new VirtualTimeScheduler();
    const left = new LearningSwitch({ scheduler: vts });
    const right = new LearningSwitch({ scheduler: vts });
    const cable = connectBackends(left, right, { name: 'wan', link: { delayMs: 5, bitsPerSecond: 10e6 }, scheduler: vts });
    const atL = new Arrivals(() => vts.nowNs);
    const atR = new Arrivals(() => vts.nowNs);
    const l = left.attach({ name: 'l', mac: mac(1) }, atL);
    const r = right.attach({ name: 'r', mac: mac(2) }, atR);
    l.deliver(frame(mac(2), mac(1), 1, 100)); // unknown destination: flooded across the cable
    vts.runUntilIdle();
    expect(atR.log).toEqual([{ at: 5_080_000, tag: 1, length: 100, offload: undefined }]); // 100 B at 10 Mbit/s = 80 µs, + 5 ms
    r.deliver(frame(mac(1), mac(2), 2, 1000));
    const t = vts.nowNs;
    vts.runUntilIdle();
    expect(atL.log.map((e) => [e.at - t, e.tag])).toEqual([[5_800_000, 2]]);
    expect(cable.link()).toMatchObject({ aToB: { frames: 1, bytes: 100 }, bToA: { frames: 1, bytes: 1000 } });
    // what is on the wire when the cable is pulled is counted as dropped
    l.deliver(frame(mac(2), mac(1), 3, 100));
    cable.disconnect();
    vts.runUntilIdle();
    expect(atR.log.length).toBe(1);
    expect(cable.a.counters.drops).toBe(1);
  });

  it('offload metadata crosses the link with the frame (a copy: the sender may reuse its buffers)', () => {
    const { vts, sw, atB } = twoPorts({ delayMs: 0.5 });
    const off: FrameOffload = { needsCsum: true, csumStart: 34, csumOffset: 6, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false };
    const ao = sw.attach({ name: 'ao', mac: mac(3), acceptsOffload: true }, { deliver: () => true });
    const f = frame(mac(2), mac(3), 9, 80);
    ao.deliver(f, off);
    f[14] = 0;
    off.csumStart = 0;
    vts.runUntilIdle();
    // port b takes plain frames: the switch completed the checksum at b's end of the link
    expect(atB.log).toMatchObject([{ tag: 9, offload: undefined }]);
  });

  it('works in real time with the default scheduler: a 30 ms link delivers no earlier than 30 ms later', async () => {
    const sw = new LearningSwitch({ link: { delayMs: 30 } });
    const got = new Promise<number>((resolve) => sw.attach({ name: 'b', mac: mac(2) }, { deliver: () => (resolve(performance.now()), true) }));
    const a = sw.attach({ name: 'a', mac: mac(1) }, { deliver: () => true });
    const sentAt = performance.now();
    a.deliver(frame(mac(2), mac(1), 1, 60)); // unknown: flooded to b (a's link: 30 ms, b's link: 30 ms)
    expect(await got).toBeGreaterThanOrEqual(sentAt + 60 - 1);
    await sw.close();
  });

  it("the real-time scheduler can be the embedder's own", async () => {
    const scheduler = new MicrotaskScheduler();
    const sw = new LearningSwitch({ scheduler, link: { delayMs: 5 } });
    const got = new Promise<number>((resolve) => sw.attach({ name: 'b', mac: mac(2) }, { deliver: () => (resolve(scheduler.now()), true) }));
    const t0 = scheduler.now();
    sw.attach({ name: 'a', mac: mac(1) }, { deliver: () => true }).deliver(frame(mac(2), mac(1), 1, 60));
    expect((await got) - t0).toBeGreaterThanOrEqual(10);
  });

  it('matches a reference model on random traffic: arrival = max(t, link free) + 8n/rate + delay, in order, drops exactly when the queue is full (property)', () => {
    const send = fc.record({ gapNs: fc.integer({ min: 0, max: 200_000 }), size: fc.integer({ min: 60, max: 1514 }) });
    fc.assert(
      fc.property(
        fc.array(send, { minLength: 1, maxLength: 60 }),
        fc.constantFrom(10e6, 100e6, 1e9),
        fc.integer({ min: 0, max: 3_000_000 }),
        fc.integer({ min: 1, max: 8 }),
        (sends, rate, delayNs, queueFrames) => {
          const { vts, a, atB, sw } = twoPorts({ delayMs: delayNs / 1e6, bitsPerSecond: rate, queueFrames });
          // reference, in whole ns (every size gives whole ns at these rates)
          const expected: Array<{ at: number; tag: number }> = [];
          const sentAt: number[] = [];
          let free = 0;
          let drops = 0;
          let t = vts.nowNs;
          sends.forEach((s, i) => {
            t += s.gapNs;
            vts.runUntil(t / 1e6);
            const waiting = sentAt.filter((end) => end > t).length - 1;
            if (free > t && waiting >= queueFrames) {
              drops++;
              expect(a.deliver(frame(mac(2), mac(1), i & 0xff, s.size))).toBe(false); // b's link refused it
              return;
            }
            const end = Math.max(t, free) + (s.size * 8 * 1e9) / rate;
            free = end;
            sentAt.push(end);
            expected.push({ at: end + delayNs, tag: i & 0xff });
            a.deliver(frame(mac(2), mac(1), i & 0xff, s.size));
          });
          vts.runUntilIdle();
          expect(atB.log.map((e) => ({ at: e.at, tag: e.tag }))).toEqual(expected);
          const b = sw.ports().find((p) => p.name === 'b')!;
          expect(b.link!.toNic.drops).toBe(drops);
          expect(b.counters.drops).toBe(drops);
          expect(b.link!.toNic.inFlight).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a switch made by name from the container takes a link model and runs it on the container's scheduler", async () => {
    const vts = new VirtualTimeScheduler();
    const { container } = createVbus({ modules: [netModule], scheduler: vts });
    const sw = (await container.get(NetBackendRegistry).create('switch', { link: { delayMs: 2 } })) as LearningSwitch;
    const at = new Arrivals(() => vts.nowNs);
    sw.attach({ name: 'b', mac: mac(2) }, at);
    sw.attach({ name: 'a', mac: mac(1) }, { deliver: () => true }).deliver(frame(mac(2), mac(1), 5, 60));
    vts.runUntilIdle();
    expect(at.log).toMatchObject([{ at: 4_000_000, tag: 5 }]); // 2 ms out of a, 2 ms into b
  });

  it('a link that never drains keeps its memory bounded (delivered frames are let go)', () => {
    const vts = new VirtualTimeScheduler();
    const lane = new LinkLane({ delayMs: 5, bitsPerSecond: 1e9, queueFrames: 100 }, vts, () => true);
    const f = new Uint8Array(1250); // 10 µs on the wire
    // 100 000 frames, one every 10 µs: always about 500 propagating, the wire never empties
    for (let i = 0; i < 100_000; i++) {
      expect(lane.send(f, undefined)).toBe(true);
      vts.runFor(0.01);
    }
    expect(lane.stats.frames).toBeGreaterThan(99_000);
    expect(lane.stats.drops).toBe(0);
    expect((lane as unknown as { wire: unknown[] }).wire.length).toBeLessThan(3000);
  });

  it('refuses a bad link model with a ConfigError naming the field', () => {
    expect(() => new LearningSwitch({ link: { delayMs: -1 } })).toThrow(ConfigError);
    expect(() => new LearningSwitch({ link: { delayMs: Number.NaN } })).toThrow(/option link.delayMs/);
    expect(() => new LearningSwitch({ link: { bitsPerSecond: 0 } })).toThrow(/option link.bitsPerSecond/);
    expect(() => new LearningSwitch({ link: { delayMs: 1, queueFrames: 0 } })).toThrow(/option link.queueFrames/);
    const sw = new LearningSwitch({ link: () => ({ queueFrames: 1.5 }) });
    expect(() => sw.attach({ name: 'p', mac: mac(1) }, { deliver: () => true })).toThrow(/option link.queueFrames/);
    expect(() => connectBackends(sw, new LearningSwitch(), { name: 'c', link: { delayMs: Infinity } })).toThrow(/option link.delayMs/);
  });

  it('an ideal link (no delay, unlimited bandwidth) is the default synchronous path', () => {
    const sw = new LearningSwitch({ link: {} });
    const seen: number[] = [];
    sw.attach({ name: 'b', mac: mac(2) }, { deliver: (f) => (seen.push(f[14]!), true) });
    sw.attach({ name: 'a', mac: mac(1) }, { deliver: () => true }).deliver(frame(mac(2), mac(1), 4, 60));
    expect(seen).toEqual([4]);
    expect(sw.ports()[0]!.link).toBeUndefined();
  });
});
