// docs/embedding.md, "Determinism": a venet guest and a virtio-net guest with responders on a
// switch, in virtual time, with a seeded random source; the run's introspection and pcap capture
// come out byte for byte the same every time. Type-checked and run by test/determinism.test.ts.
import { createHash } from 'node:crypto';
import { Container } from 'inversify';
import { createVbus, GuestAllocator, RandomSource, RegionMemory, runUntilSettled, SimulatedConnector, VirtualTimeScheduler } from '@vbus/core';
import { attachPeer, GuestResponder, LearningSwitch, PcapTap } from '@vbus/net';
import { venetModule, VenetDriver } from '@vbus/venet';
import { virtioNetModule, VirtioNetDriver } from '@vbus/virtio-compat';

/** A small seeded generator (xorshift32): the same seed gives the same bytes. */
export function seededRandom(seed: number): RandomSource {
  let x = seed >>> 0 || 1;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      into[i] = x & 0xff;
    }
  };
}

/** What one run produced: hashes to compare, and the facts behind them. */
export interface DeterminismRun {
  introspection: string;
  pcapSha256: string;
  pcapBytes: number;
  trace: string[];
  rttMs: number[];
  macs: string[];
}

export async function determinismExample(seed: number): Promise<DeterminismRun> {
  // #region setup
  const vts = new VirtualTimeScheduler({ latencyNs: 2_000 }); // the only time there is
  const container = new Container();
  container.bind<RandomSource>(RandomSource).toConstantValue(seededRandom(seed)); // the only randomness
  const { vbus } = createVbus({ container, modules: [venetModule, virtioNetModule], scheduler: vts });
  const bus = vbus.createBus('sim');

  const pcap: Uint8Array[] = [];
  const tap = new PcapTap((bytes) => pcap.push(bytes.slice()), { clock: vts }); // timestamps in virtual time
  const sw = new LearningSwitch({ scheduler: vts, capture: tap });
  bus.createDevice('virtual-ethernet', 'venet0', { backend: sw }); // MACs drawn from the seeded source
  bus.createDevice('virtio-net', 'vnet0', { backend: sw });
  // #endregion setup

  // #region guests
  const guest = (device: string) => {
    const connector = new SimulatedConnector(bus, RegionMemory.create(0x10000, 4 << 20), vts, device);
    return { connector, conn: connector.open(device), allocator: new GuestAllocator(0x10000, 4 << 20) };
  };
  const a = guest('venet0');
  const b = guest('vnet0');
  const venet = await runUntilSettled(vts, VenetDriver.open(a.conn, a.allocator));
  const virtio = await runUntilSettled(vts, VirtioNetDriver.open(b.conn, b.allocator));
  const ra = new GuestResponder({ mac: venet.mac, ip: '192.0.2.10', name: 'a', scheduler: vts });
  const rb = new GuestResponder({ mac: virtio.mac, ip: '192.0.2.11', name: 'b', scheduler: vts });
  attachPeer(venet, ra);
  attachPeer(virtio, rb);
  // #endregion guests

  // #region run
  const rttMs: number[] = [];
  for (const size of [56, 1000, 1400]) {
    rttMs.push((await runUntilSettled(vts, ra.ping('192.0.2.11', size))).rttMs);
    rttMs.push((await runUntilSettled(vts, rb.ping('192.0.2.10', size))).rttMs);
  }
  const introspection = JSON.stringify(vbus.introspect()); // ids counted per Vbus, counters, MACs
  const pcapSha256 = createHash('sha256').update(Buffer.concat(pcap)).digest('hex');
  // #endregion run
  ra.close();
  rb.close();
  return {
    introspection,
    pcapSha256,
    pcapBytes: pcap.reduce((n, c) => n + c.length, 0),
    trace: [...a.connector.trace, ...b.connector.trace],
    rttMs,
    macs: bus.introspect().devices.map((d) => String(d.attributes.mac)),
  };
}
