// The NIC plugins inside another program's scheduler: venet and virtio-net guests on one switch,
// every signal and every deferred device step in virtual time. Nothing moves unless the embedder
// steps the scheduler, and two runs of the same scenario give the same trace, byte for byte.
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, RegionMemory, runUntilSettled, SimulatedConnector, VirtualTimeScheduler } from '@vbus/core';
import { venetModule, VenetDriver } from '@vbus/venet';
import { GuestResponder, LearningSwitch, parseMac, attachPeer } from '@vbus/net';
import { virtioNetModule, VirtioNetDriver } from '@vbus/virtio-compat';

async function scenario() {
  const vts = new VirtualTimeScheduler({ latencyNs: 2_000 });
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule], scheduler: vts });
  const bus = vbus.createBus('sim');
  const sw = new LearningSwitch({ scheduler: vts });
  bus.createDevice('virtual-ethernet', 'venet0', { mac: '52:54:00:00:00:0a', backend: sw });
  bus.createDevice('virtio-net', 'virtio1', { mac: '52:54:00:00:00:0b', backend: sw });
  const trace: string[] = [];
  const guest = (device: string, base: number) => {
    const memory = RegionMemory.create(base, 8 << 20);
    const c = new SimulatedConnector(bus, memory, vts, device);
    return { conn: c.open(device), allocator: new GuestAllocator(base, 8 << 20), connector: c };
  };
  const a = guest('venet0', 0x10000);
  const b = guest('virtio1', 0x10000);
  const venet = await runUntilSettled(vts, VenetDriver.open(a.conn, a.allocator));
  const virtio = await runUntilSettled(vts, VirtioNetDriver.open(b.conn, b.allocator));
  const ra = new GuestResponder({ mac: parseMac('52:54:00:00:00:0a'), ip: '192.0.2.10', name: 'a', timeoutMs: 60_000, scheduler: vts });
  const rb = new GuestResponder({ mac: parseMac('52:54:00:00:00:0b'), ip: '192.0.2.11', name: 'b', timeoutMs: 60_000, scheduler: vts });
  attachPeer(venet, ra);
  rb.setTransmit((f) => virtio.send(f));
  virtio.onFrame = (f) => {
    rb.receive(f);
  };
  const t0 = vts.nowNs;
  const ab = await runUntilSettled(vts, ra.ping('192.0.2.11', 56));
  const ba = await runUntilSettled(vts, rb.ping('192.0.2.10', 1000));
  trace.push(...a.connector.trace, ...b.connector.trace);
  return { ab, ba, trace, virtualNs: vts.nowNs - t0, devices: bus.introspect().devices.map((d) => ({ name: d.name, counters: d.counters })) };
}

describe('NIC plugins in virtual time (simulated connector)', () => {
  it('a venet guest and a virtio-net guest ping each other with every signal in virtual time', async () => {
    const r = await scenario();
    expect(r.ab.from).toBe('192.0.2.11');
    expect(r.ba.from).toBe('192.0.2.10');
    expect(r.ba.size).toBe(1000);
    expect(r.trace.length).toBeGreaterThan(4);
    // each signal crossing costs the scheduler's 2 µs of virtual time: the pings took a bounded,
    // exact amount of it, whatever the host machine was doing
    expect(r.virtualNs).toBeGreaterThan(0);
    expect(r.virtualNs % 2_000).toBe(0);
  });

  it('two runs give the same trace of signals, byte for byte', async () => {
    const one = await scenario();
    const two = await scenario();
    expect(two.trace.join('\n')).toBe(one.trace.join('\n'));
    expect(two.virtualNs).toBe(one.virtualNs);
    expect(JSON.stringify(two.devices)).toBe(JSON.stringify(one.devices));
  });
});
