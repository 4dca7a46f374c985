import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LearningSwitch } from './learning-switch.js';
import { LoopbackBackend } from './loopback-backend.js';
import { connectBackends } from './patch-cable.js';
import { BackendPort } from './port.js';
import type { FrameOffload, FrameSink, NetBackendPort } from './net-backend.js';
import { ConfigError } from '@vbus/core';

class Collector implements FrameSink {
  frames: Uint8Array[] = [];
  accept: boolean | ((n: number) => boolean) = true;
  private seen = 0;
  deliver(frame: Uint8Array, _o?: FrameOffload): boolean {
    const n = this.seen++;
    const ok = typeof this.accept === 'function' ? this.accept(n) : this.accept;
    if (!ok) return false;
    this.frames.push(frame.slice());
    return true;
  }
}

const mac = (n: number): Uint8Array => new Uint8Array([0x02, 0, 0, 0, 0, n]);
const BCAST = new Uint8Array(6).fill(0xff);

function frame(dst: Uint8Array, src: Uint8Array, tag = 0, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype
  f[14] = tag;
  return f;
}

/** `n` ports; NIC ports (port security: each sends only from mac(i)) unless `uplink`. */
function setup(n: number, opts: ConstructorParameters<typeof LearningSwitch>[0] = {}, uplink = false) {
  const sw = new LearningSwitch(opts);
  const sinks: Collector[] = [];
  const ports: NetBackendPort[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Collector();
    sinks.push(c);
    ports.push(sw.attach({ name: `p${i}`, mac: mac(i) }, c, { uplink }));
  }
  return { sw, sinks, ports };
}

describe('LearningSwitch', () => {
  it('floods unknown unicast to every other port and never back to the ingress port', () => {
    const { sw, sinks, ports } = setup(4);
    ports[0]!.deliver(frame(mac(9), mac(0)));
    expect(sinks.map((s) => s.frames.length)).toEqual([0, 1, 1, 1]);
    expect(sw.stats.flooded).toBe(1);
  });

  it('learns source addresses and then forwards unicast to one port', () => {
    const { sw, sinks, ports } = setup(4);
    ports[1]!.deliver(frame(BCAST, mac(1), 1));
    expect(sinks.map((s) => s.frames.length)).toEqual([1, 0, 1, 1]);
    ports[2]!.deliver(frame(mac(1), mac(2), 2));
    expect(sinks.map((s) => s.frames.length)).toEqual([1, 1, 1, 1]);
    expect(sinks[1]!.frames[0]![14]).toBe(2);
    expect(sw.stats.forwarded).toBe(1);
    expect(sw.lookup(mac(1))).toBe('p1');
    expect(sw.lookup(mac(2))).toBe('p2');
    expect(
      sw
        .entries()
        .map((e) => [e.mac, e.port])
        .sort(),
    ).toEqual([
      ['02:00:00:00:00:01', 'p1'],
      ['02:00:00:00:00:02', 'p2'],
    ]);
  });

  it('floods multicast and broadcast even for learned-looking addresses, and does not learn group sources', () => {
    const { sw, sinks, ports } = setup(3, {}, true);
    const mcast = new Uint8Array([0x01, 0x00, 0x5e, 0, 0, 1]);
    ports[0]!.deliver(frame(mcast, mac(0)));
    ports[1]!.deliver(frame(mac(0), mcast)); // group source: never learned
    expect(sw.lookup(mcast)).toBeUndefined();
    expect(sinks.map((s) => s.frames.length)).toEqual([1, 1, 1]);
  });

  it('filters a frame whose destination is learned on the ingress port', () => {
    const { sw, sinks, ports } = setup(3, {}, true);
    ports[0]!.deliver(frame(BCAST, mac(0)));
    ports[0]!.deliver(frame(BCAST, mac(5))); // mac 5 also lives behind p0
    ports[0]!.deliver(frame(mac(5), mac(0)));
    expect(sw.stats.filtered).toBe(1);
    expect(sinks.map((s) => s.frames.length)).toEqual([0, 2, 2]);
  });

  it('moves an address to the port it is seen on last', () => {
    const { sw, ports } = setup(3, {}, true);
    ports[0]!.deliver(frame(BCAST, mac(7)));
    ports[2]!.deliver(frame(BCAST, mac(7)));
    expect(sw.lookup(mac(7))).toBe('p2');
    expect(sw.stats.moved).toBe(1);
  });

  it('a stream repeating its addresses (the last-address shortcut) follows moves, refreshes, expiry and a detach exactly', () => {
    let t = 1_000;
    const { sw, sinks, ports } = setup(4, { ageMs: 10_000, clock: { now: () => t } }, true);
    const counts = () => sinks.map((s) => s.frames.length);
    ports[1]!.deliver(frame(BCAST, mac(9)));
    const base = counts();
    for (let i = 0; i < 5; i++) ports[0]!.deliver(frame(mac(9), mac(8), i));
    expect(counts()).toEqual([base[0], base[1]! + 5, base[2], base[3]]);
    // the destination moves: the next frame of the same stream follows it
    ports[2]!.deliver(frame(BCAST, mac(9)));
    const moved = counts();
    ports[0]!.deliver(frame(mac(9), mac(8)));
    expect(counts()).toEqual([moved[0], moved[1], moved[2]! + 1, moved[3]]);
    // the source moves too: frames toward it go to its new port
    ports[3]!.deliver(frame(mac(9), mac(8)));
    expect(sw.lookup(mac(8))).toBe('p3');
    // a source seen again (the shortcut) is refreshed: alive 12 s after it was learned, at age 10 s
    t += 6_000;
    ports[3]!.deliver(frame(mac(9), mac(8)));
    t += 6_000;
    expect(sw.lookup(mac(8))).toBe('p3');
    // the destination was last refreshed 12 s ago: expired, the stream floods
    const before = counts();
    const expired = sw.stats.expired;
    ports[3]!.deliver(frame(mac(9), mac(8)));
    expect(sw.stats.expired).toBe(expired + 1);
    expect(counts()).toEqual([before[0]! + 1, before[1]! + 1, before[2]! + 1, before[3]]);
    // learned again on p2, then p2 detaches: nothing more reaches it, the stream floods the rest
    ports[2]!.deliver(frame(BCAST, mac(9)));
    ports[3]!.deliver(frame(mac(9), mac(8)));
    const detached = counts();
    ports[2]!.disconnect();
    ports[3]!.deliver(frame(mac(9), mac(8)));
    expect(counts()).toEqual([detached[0]! + 1, detached[1]! + 1, detached[2], detached[3]]);
  });

  it('ages entries out with an injected clock (lazily, on lookup)', () => {
    let t = 1_000;
    const { sw, sinks, ports } = setup(3, { ageMs: 10_000, clock: { now: () => t } });
    ports[1]!.deliver(frame(BCAST, mac(1)));
    t += 10_000; // exactly the age: still valid
    ports[0]!.deliver(frame(mac(1), mac(0)));
    expect(sinks[2]!.frames.length).toBe(1); // only the first broadcast
    t += 10_001;
    expect(sw.entries().find((e) => e.port === 'p1')).toBeUndefined();
    ports[0]!.deliver(frame(mac(1), mac(0)));
    expect(sw.stats.expired).toBe(1);
    expect(sinks[2]!.frames.length).toBe(2); // flooded again
    expect(sinks[1]!.frames.length).toBe(2);
  });

  it('default age is 300 s', () => {
    let t = 0;
    const { sw, ports } = setup(2, { clock: { now: () => t } });
    ports[0]!.deliver(frame(BCAST, mac(0)));
    t = 300_000;
    expect(sw.lookup(mac(0))).toBe('p0');
    t = 300_001;
    expect(sw.lookup(mac(0))).toBeUndefined();
  });

  it('stops learning at maxEntries (frames still flood) and recovers room from expired entries', () => {
    let t = 0;
    const { sw, sinks, ports } = setup(2, { maxEntries: 2, ageMs: 100, clock: { now: () => t } }, true);
    for (let i = 10; i < 13; i++) ports[0]!.deliver(frame(BCAST, mac(i)));
    expect(sw.entries().length).toBe(2);
    expect(sw.stats.tableFull).toBe(1);
    ports[1]!.deliver(frame(mac(12), mac(1)));
    expect(sinks[0]!.frames.length).toBe(1); // unknown: flooded to p0
    t = 1_000;
    ports[0]!.deliver(frame(BCAST, mac(12)));
    expect(sw.lookup(mac(12))).toBe('p0');
  });

  it('counts drops when a sink refuses, and sent = delivered + dropped per destination', () => {
    const { sw, sinks, ports } = setup(2);
    ports[1]!.deliver(frame(BCAST, mac(1)));
    sinks[1]!.accept = (n) => n % 3 !== 0;
    const before = { ...ports[1]!.counters };
    let refused = 0;
    for (let i = 0; i < 30; i++) if (!ports[0]!.deliver(frame(mac(1), mac(0), i, 64 + i))) refused++;
    const c = ports[1]!.counters;
    expect(c.drops - before.drops).toBe(10);
    expect(refused).toBe(10);
    expect(c.rxFrames + c.drops).toBe(ports[0]!.counters.txFrames);
    expect(ports[0]!.counters.drops).toBe(0);
    expect(sw.ports().map((p) => p.name)).toEqual(['p0', 'p1']);
  });

  it('property: per port, frames sent toward it = rxFrames + drops; ingress never receives its own frame', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ from: fc.nat(3), to: fc.integer({ min: -1, max: 5 }), refuse: fc.boolean() }), { maxLength: 80 }), (ops) => {
        const { sw, sinks, ports } = setup(4);
        const expected = [0, 0, 0, 0];
        for (const op of ops) {
          const dst = op.to < 0 ? BCAST : mac(op.to);
          // Model: which ports should receive?
          // (the switch learns the source before it looks up the destination)
          const learned = op.to === op.from ? `p${op.from}` : op.to >= 0 ? sw.lookup(mac(op.to)) : undefined;
          const targets = learned !== undefined ? [Number(learned.slice(1))] : [0, 1, 2, 3];
          for (const t of targets) if (t !== op.from) expected[t]!++;
          for (const s of sinks) s.accept = !op.refuse;
          const tag = op.from;
          ports[op.from]!.deliver(frame(dst, mac(op.from), tag));
        }
        for (let i = 0; i < 4; i++) {
          const c = ports[i]!.counters;
          expect(c.rxFrames + c.drops).toBe(expected[i]);
          expect(sinks[i]!.frames.every((f) => f[14] !== i)).toBe(true);
        }
      }),
    );
  });

  it('a disconnected port refuses frames (counted) and its addresses are forgotten', () => {
    const { sw, sinks, ports } = setup(3);
    ports[1]!.deliver(frame(BCAST, mac(1)));
    ports[1]!.disconnect();
    expect(sw.lookup(mac(1))).toBeUndefined();
    expect(ports[1]!.deliver(frame(BCAST, mac(1)))).toBe(false);
    expect(ports[1]!.counters.drops).toBe(1);
    ports[0]!.deliver(frame(BCAST, mac(0)));
    expect(sinks[1]!.frames.length).toBe(0);
    expect(sw.ports().length).toBe(2);
  });

  it('drops runts on the ingress port', () => {
    const { sw, ports } = setup(2);
    expect(ports[0]!.deliver(new Uint8Array(10))).toBe(false);
    expect(ports[0]!.counters.drops).toBe(1);
    expect(sw.stats.runts).toBe(1);
  });

  it('captures every frame entering the switch and per-port traffic both ways', () => {
    const span = new Collector();
    const portCap = new Collector();
    const sw = new LearningSwitch({ capture: span });
    const a = sw.attach({ name: 'a', mac: mac(0) }, new Collector(), { capture: portCap });
    const b = sw.attach({ name: 'b', mac: mac(1) }, new Collector());
    a.deliver(frame(BCAST, mac(0)));
    b.deliver(frame(mac(0), mac(1)));
    expect(span.frames.length).toBe(2);
    expect(portCap.frames.length).toBe(2);
  });

  it('refuses bad options', () => {
    expect(() => new LearningSwitch({ ageMs: 0 })).toThrow(ConfigError);
    expect(() => new LearningSwitch({ maxEntries: -1 })).toThrow(ConfigError);
  });

  it('joins another backend as a switch port with connectBackends', () => {
    const { sw, sinks, ports } = setup(2);
    const loop = new LoopbackBackend();
    const cable = connectBackends(sw, loop, { name: 'loop' });
    // A frame flooded to the cable comes back from the loopback into the switch (a loop, on
    // purpose). Its source is p0's NIC MAC, which the cable (an uplink) may not send from: port
    // security drops it instead of moving mac(0) to the cable and flooding it again.
    ports[0]!.deliver(frame(BCAST, mac(0), 42));
    expect(sinks[1]!.frames.length).toBe(1);
    expect(sinks[0]!.frames.length).toBe(0);
    expect(sw.ports().map((p) => p.name)).toEqual(['p0', 'p1', 'loop']);
    // forwarding is synchronous: the reflection's refusal makes the copy toward the cable count
    // as refused too (a drop on the cable port each way, nothing counted twice per frame)
    expect(cable.a.counters.txFrames).toBe(1);
    expect(cable.a.counters.rxFrames + cable.a.counters.drops).toBe(2);
    expect(sw.stats.spoofed).toBe(1);
    expect(sw.lookup(mac(0))).toBe('p0');
    cable.disconnect();
    expect(sw.ports().length).toBe(2);
  });
});

describe('LoopbackBackend', () => {
  it('reflects each frame to the sending NIC only, counting', async () => {
    const lb = new LoopbackBackend();
    const a = new Collector();
    const b = new Collector();
    const pa = lb.attach({ name: 'a', mac: mac(0) }, a);
    lb.attach({ name: 'b', mac: mac(1) }, b);
    expect(pa.deliver(frame(BCAST, mac(0), 5))).toBe(true);
    expect(a.frames.length).toBe(1);
    expect(a.frames[0]![14]).toBe(5);
    expect(b.frames.length).toBe(0);
    expect(pa.counters).toEqual({ txFrames: 1, txBytes: 60, rxFrames: 1, rxBytes: 60, drops: 0 });
    a.accept = false;
    expect(pa.deliver(frame(BCAST, mac(0)))).toBe(false);
    expect(pa.counters.drops).toBe(1);
    await lb.close();
    expect(pa.deliver(frame(BCAST, mac(0)))).toBe(false);
    expect(pa.counters.drops).toBe(2);
  });
});

describe('LearningSwitch robustness', () => {
  it('a sink that throws counts a drop and does not stop the flood to other ports', () => {
    const sw = new LearningSwitch();
    const ok = new Collector();
    const src = sw.attach({ name: 'src', mac: mac(0) }, new Collector());
    const bad = sw.attach(
      { name: 'bad', mac: mac(1) },
      {
        deliver() {
          throw new Error('boom');
        },
      },
    );
    sw.attach({ name: 'ok', mac: mac(2) }, ok);
    expect(() => src.deliver(frame(BCAST, mac(0)))).not.toThrow();
    expect(ok.frames.length).toBe(1);
    expect(bad.counters.drops).toBe(1);
    expect((bad as unknown as { sinkErrors: number }).sinkErrors).toBe(1);
  });
});

describe('LearningSwitch port security and bounded learning (issue 10)', () => {
  it("a NIC port may only send from its NIC's MAC: a spoofer cannot steal a neighbour's unicast frames", () => {
    const { sw, sinks, ports } = setup(3);
    ports[1]!.deliver(frame(BCAST, mac(1))); // victim p1 announces itself
    // attacker p2 claims mac(1) (and a group source): dropped, counted on p2, table unchanged
    expect(ports[2]!.deliver(frame(BCAST, mac(1), 9))).toBe(false);
    expect(ports[2]!.deliver(frame(BCAST, BCAST, 9))).toBe(false);
    expect(sw.stats.spoofed).toBe(2);
    expect(ports[2]!.counters.drops).toBe(2);
    expect(sw.lookup(mac(1))).toBe('p1');
    expect(sinks[0]!.frames.filter((f) => f[14] === 9).length).toBe(0);
    // p0's unicast to the victim still reaches the victim only
    ports[0]!.deliver(frame(mac(1), mac(0), 5));
    expect(sinks[1]!.frames.at(-1)![14]).toBe(5);
    expect(sinks[2]!.frames.some((f) => f[14] === 5)).toBe(false);
    // sent = delivered + counted drops holds on the attacker's port
    expect(ports[2]!.counters.txFrames).toBe(ports[2]!.counters.drops);
  });

  it('an uplink may send from hosts behind it, but not from a MAC a NIC port owns', () => {
    const sw = new LearningSwitch();
    const nic = sw.attach({ name: 'nic', mac: mac(1) }, new Collector());
    const up = sw.attach({ name: 'up', mac: new Uint8Array(6) }, new Collector()); // no NIC MAC: an uplink
    const explicit = sw.attach({ name: 'up2', mac: mac(3), uplink: true }, new Collector());
    expect(up.deliver(frame(BCAST, mac(20)))).toBe(true);
    expect(explicit.deliver(frame(BCAST, mac(21)))).toBe(true);
    expect(up.deliver(frame(BCAST, mac(1)))).toBe(false);
    expect(sw.lookup(mac(20))).toBe('up');
    expect(sw.lookup(mac(21))).toBe('up2');
    expect(sw.stats.spoofed).toBe(1);
    nic.disconnect();
    expect(up.deliver(frame(BCAST, mac(1)))).toBe(true); // no NIC owns it any more
  });

  it('a port learns at most maxEntriesPerPort addresses: an uplink flooding source MACs cannot blind the table', () => {
    const sw = new LearningSwitch({ maxEntries: 100, maxEntriesPerPort: 10 });
    const sinks = [new Collector(), new Collector()];
    const flood = sw.attach({ name: 'flood', mac: mac(0), uplink: true }, sinks[0]!);
    const nic = sw.attach({ name: 'nic', mac: mac(1) }, sinks[1]!);
    for (let i = 0; i < 1000; i++) flood.deliver(frame(BCAST, Uint8Array.of(2, 1, 0, 0, i >> 8, i & 0xff)));
    expect(sw.entries().length).toBe(10);
    expect(sw.stats.portLimit).toBe(990);
    nic.deliver(frame(BCAST, mac(1)));
    expect(sw.lookup(mac(1))).toBe('nic');
    flood.deliver(frame(mac(1), Uint8Array.of(2, 1, 0, 0, 0, 1), 77));
    expect(sinks[1]!.frames.at(-1)![14]).toBe(77);
    expect(sw.stats.forwarded).toBe(1);
  });

  it('a full table costs each new source a bounded number of visits, not a full scan, and still recovers expired room', () => {
    let t = 0;
    const sw = new LearningSwitch({ maxEntries: 4096, maxEntriesPerPort: 100_000, ageMs: 1000, clock: { now: () => t } });
    const up = sw.attach({ name: 'up', mac: new Uint8Array(6) }, new Collector());
    const src = (i: number) => Uint8Array.of(2, 2, 0, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    for (let i = 0; i < 4096; i++) up.deliver(frame(BCAST, src(i)));
    expect(sw.entries().length).toBe(4096);
    // count the Map entries the switch visits while 100 new sources arrive (any Map iteration)
    const proto = Map.prototype as unknown as { [Symbol.iterator]: (this: Map<unknown, unknown>) => Iterator<unknown> };
    const original = proto[Symbol.iterator];
    let visits = 0;
    proto[Symbol.iterator] = function (this: Map<unknown, unknown>) {
      const it = original.call(this);
      return {
        next: () => (visits++, it.next()),
        [Symbol.iterator]() {
          return this;
        },
      } as Iterator<unknown>;
    };
    try {
      for (let i = 0; i < 100; i++) up.deliver(frame(BCAST, src(10_000 + i)));
    } finally {
      proto[Symbol.iterator] = original;
    }
    expect(sw.stats.tableFull).toBe(100);
    expect(visits).toBeLessThanOrEqual(100 * 9);
    // after aging, new sources find room within the bounded sweep
    t = 5000;
    up.deliver(frame(BCAST, src(20_000)));
    expect(sw.lookup(src(20_000))).toBe('up');
  });
});

/** A sink that batches: records each frame with its `more`, and each flush (as the frames it has taken by then). */
class BurstSink implements FrameSink {
  frames: Array<{ tag: number; more: boolean }> = [];
  flushedAt: number[] = [];
  deliver(frame: Uint8Array, _o?: FrameOffload, more?: boolean): boolean {
    this.frames.push({ tag: frame[14]!, more: more === true });
    return true;
  }
  flush(): void {
    this.flushedAt.push(this.frames.length);
  }
}

describe('LearningSwitch bursts (frames delivered with more)', () => {
  it('reads its clock once for a burst, and once per frame without more', () => {
    let reads = 0;
    const clock = { now: () => (reads++, 1000) };
    const { ports } = setup(2, { clock });
    ports[1]!.deliver(frame(BCAST, mac(1))); // learn port 1
    reads = 0;
    for (let i = 0; i < 10; i++) ports[0]!.deliver(frame(mac(1), mac(0), i), undefined, true);
    ports[0]!.flush!();
    expect(reads).toBe(1);
    for (let i = 0; i < 3; i++) ports[0]!.deliver(frame(mac(1), mac(0), i));
    expect(reads).toBe(4);
    // a burst ended by a frame without more: the next burst reads again
    ports[0]!.deliver(frame(mac(1), mac(0)), undefined, true);
    ports[0]!.deliver(frame(mac(1), mac(0)));
    ports[0]!.deliver(frame(mac(1), mac(0)), undefined, true);
    ports[0]!.flush!();
    expect(reads).toBe(6);
  });

  it('aging still sees time move between bursts', () => {
    let t = 0;
    const { sw, sinks, ports } = setup(3, { ageMs: 100, clock: { now: () => t } });
    ports[1]!.deliver(frame(BCAST, mac(1)));
    for (let i = 0; i < 5; i++) ports[0]!.deliver(frame(mac(1), mac(0), i), undefined, true);
    ports[0]!.flush!();
    expect(sinks[1]!.frames.length).toBe(5);
    expect(sinks[2]!.frames.length).toBe(1); // only the broadcast
    t = 101; // port 1's address has aged out: the next burst floods
    ports[0]!.deliver(frame(mac(1), mac(0), 9), undefined, true);
    ports[0]!.flush!();
    expect(sinks[2]!.frames.length).toBe(2);
    expect(sw.stats.flooded).toBe(2);
  });

  it('passes a burst on to a sink that has flush, and flushes it once when the ingress burst ends', () => {
    const sw = new LearningSwitch();
    const a = new BurstSink();
    const b = new BurstSink();
    const plain = new Collector();
    const pa = sw.attach({ name: 'a', mac: mac(1) }, a);
    const pb = sw.attach({ name: 'b', mac: mac(2) }, b);
    const pc = sw.attach({ name: 'c', mac: mac(3) }, plain);
    pb.deliver(frame(BCAST, mac(2), 0));
    pc.deliver(frame(BCAST, mac(3), 0));
    expect(a.frames).toEqual([
      { tag: 0, more: false },
      { tag: 0, more: false },
    ]);
    a.frames.length = 0;
    // a burst from port a: unicast to b and c, then a broadcast (b and c), ended by flush
    pa.deliver(frame(mac(2), mac(1), 1), undefined, true);
    pa.deliver(frame(mac(3), mac(1), 2), undefined, true);
    expect(b.flushedAt).toEqual([]);
    pa.deliver(frame(BCAST, mac(1), 3), undefined, true);
    pa.flush!();
    expect(b.frames.slice(-2)).toEqual([
      { tag: 1, more: true },
      { tag: 3, more: true },
    ]);
    expect(b.flushedAt).toEqual([b.frames.length]);
    expect(plain.frames.map((f) => f[14])).toEqual([0, 2, 3]);
    // a frame without more ends the burst too; a flush with no burst open flushes nobody
    pa.deliver(frame(mac(2), mac(1), 4), undefined, true);
    pa.deliver(frame(mac(3), mac(1), 5));
    expect(b.flushedAt).toHaveLength(2);
    pa.flush!();
    expect(b.flushedAt).toHaveLength(2);
    expect(a.flushedAt).toEqual([]);
  });

  it('a sink whose flush throws is counted on its port and the other sinks are still flushed', () => {
    const sw = new LearningSwitch();
    const bad = new BurstSink();
    bad.flush = () => {
      throw new Error('sink flush failed');
    };
    const good = new BurstSink();
    const p0 = sw.attach({ name: 'p0', mac: mac(0) }, new Collector());
    const pBad = sw.attach({ name: 'bad', mac: mac(1) }, bad);
    sw.attach({ name: 'good', mac: mac(2) }, good);
    p0.deliver(frame(BCAST, mac(0)), undefined, true);
    expect(() => p0.flush!()).not.toThrow();
    expect(good.flushedAt).toEqual([1]);
    expect(pBad).toBeInstanceOf(BackendPort);
    expect((pBad as BackendPort).sinkErrors).toBe(1);
    expect(String((pBad as BackendPort).lastSinkError)).toMatch(/sink flush failed/);
  });
});
