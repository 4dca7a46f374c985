// The in-process connector's direct delivery: signals run their handlers synchronously, run to
// completion (never one handler inside another), without a microtask hop per signal.
import { describe, expect, it } from 'vitest';
import { ConfigError, createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { echoModule, EchoDriver } from '@vbus/core/reference/echo';
import { venetModule, VenetDriver } from '@vbus/venet';
import { GuestResponder, LearningSwitch, parseMac, attachPeer, SEND_MORE } from '@vbus/net';
import { virtioNetModule, VirtioNetDriver } from '@vbus/virtio-compat';

const MB = 1 << 20;

describe('InProcessConnector, delivery: direct', () => {
  it('a single frame is echoed before send() returns: 1 kick, 1 tx-complete, 1 rx, no handler inside another', async () => {
    const { vbus } = createVbus({ modules: [echoModule] });
    const bus = vbus.createBus('direct');
    bus.createDevice('vbus-echo', 'echo0', { txCompleteEvery: 10 });
    const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, 8 * MB), { delivery: 'direct' }).open('echo0');
    const d = await EchoDriver.open(conn, new GuestAllocator(0x10000, 8 * MB), { ringSize: 128 });
    let depth = 0;
    let deepest = 0;
    const got: number[] = [];
    d.onFrame = (f) => {
      depth++;
      deepest = Math.max(deepest, depth);
      got.push(f[0]!);
      depth--;
    };
    // the counters are live objects: copy them
    const counts = () => ({ tx: { ...d.signalCounters().tx }, rx: { ...d.signalCounters().rx } });
    const before = counts();
    const frame = new Uint8Array(64);
    frame[0] = 42;
    d.send(frame);
    // synchronous: no await between the send and the check
    expect(got).toEqual([42]);
    expect(deepest).toBe(1);
    const after = counts();
    expect(after.tx.injected - before.tx.injected).toBe(1);
    expect(after.tx.wakeups - before.tx.wakeups).toBe(1);
    expect(after.rx.wakeups - before.rx.wakeups).toBe(1);
    // a burst of 100 sent with more and one flush: one kick, every frame back by the flush's return
    for (let i = 0; i < 100; i++) {
      frame[0] = i;
      expect(d.send(frame, i < 99 ? SEND_MORE : undefined)).toBe(true);
    }
    expect(got.length).toBe(101);
    expect(got.slice(1)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(counts().tx.injected - after.tx.injected).toBe(1);
    await conn.close();
  });

  it('venet and virtio-net guests with responders on one switch ping each other, every frame delivered', async () => {
    const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
    const bus = vbus.createBus('direct');
    const sw = new LearningSwitch();
    bus.createDevice('virtual-ethernet', 'venet0', { mac: '52:54:00:00:00:0a', backend: sw });
    bus.createDevice('virtio-net', 'virtio1', { mac: '52:54:00:00:00:0b', backend: sw });
    const open = (device: string) => new InProcessConnector(bus, RegionMemory.create(0x10000, 8 * MB), { delivery: 'direct', guest: device }).open(device);
    const venet = await VenetDriver.open(open('venet0'), new GuestAllocator(0x10000, 8 * MB));
    const virtio = await VirtioNetDriver.open(open('virtio1'), new GuestAllocator(0x10000, 8 * MB));
    const ra = new GuestResponder({ mac: parseMac('52:54:00:00:00:0a'), ip: '192.0.2.10', name: 'a', timeoutMs: 5_000 });
    const rb = new GuestResponder({ mac: parseMac('52:54:00:00:00:0b'), ip: '192.0.2.11', name: 'b', timeoutMs: 5_000 });
    attachPeer(venet, ra);
    attachPeer(virtio, rb);
    for (let i = 0; i < 20; i++) {
      expect((await ra.ping('192.0.2.11', 56 + i)).from).toBe('192.0.2.11');
      expect((await rb.ping('192.0.2.10', 1400 - i)).from).toBe('192.0.2.10');
    }
    const drops = bus.introspect().devices.map((d) => JSON.stringify(d.counters).match(/"drops":\d+/g) ?? []);
    expect(drops.flat().every((x) => x === '"drops":0')).toBe(true);
  });

  it('a chain of handlers that never ends (two echo devices fed by each other) yields to the scheduler instead of holding the thread', async () => {
    const { vbus } = createVbus({ modules: [echoModule] });
    const bus = vbus.createBus('direct');
    bus.createDevice('vbus-echo', 'e0', { txCompleteEvery: 1 });
    bus.createDevice('vbus-echo', 'e1', { txCompleteEvery: 1 });
    const mk = async (name: string) =>
      EchoDriver.open(new InProcessConnector(bus, RegionMemory.create(0x10000, 8 * MB), { delivery: 'direct' }).open(name), new GuestAllocator(0x10000, 8 * MB), {
        ringSize: 64,
      });
    const a = await mk('e0');
    const b = await mk('e1');
    // whatever comes back on one connection is sent on the other: a ping-pong with no end
    a.onFrame = (f) => void b.send(f);
    b.onFrame = (f) => void a.send(f);
    let stop = false;
    const frame = new Uint8Array(64);
    a.send(frame);
    // send() returned: the chain was cut by the budget; it goes on through the scheduler, and
    // timers still run between its turns
    const before = a.counters.received + b.counters.received;
    await new Promise((r) => setTimeout(r, 20));
    const after = a.counters.received + b.counters.received;
    expect(after).toBeGreaterThan(before);
    a.onFrame = () => void (stop = true);
    b.onFrame = () => void (stop = true);
    await new Promise((r) => setTimeout(r, 5));
    expect(stop).toBe(true);
  });

  it('refuses an unknown delivery mode, naming the option', () => {
    const { vbus } = createVbus({ modules: [echoModule] });
    const bus = vbus.createBus('direct');
    expect(() => new InProcessConnector(bus, RegionMemory.create(0x10000, MB), { delivery: 'sync' as never })).toThrow(ConfigError);
    expect(() => new InProcessConnector(bus, RegionMemory.create(0x10000, MB), { delivery: 'sync' as never })).toThrow(/delivery/);
  });
});
