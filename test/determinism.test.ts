// Same seed, same inputs, same bytes (issue 12): two runs of a venet guest and a virtio-net guest
// with responders on a switch, in one process, under a VirtualTimeScheduler and a seeded
// RandomSource, give identical introspection JSON and identical pcap captures (sha-256).
import { describe, expect, it } from 'vitest';
import { determinismExample } from '../examples/embedding/determinism.js';

describe('determinism', () => {
  it('two seeded runs in one process: identical introspection, pcap bytes, signal traces and round trips', async () => {
    const one = await determinismExample(42);
    const two = await determinismExample(42);
    // the run did something: every ping answered, frames captured, both NICs signalled
    expect(one.rttMs).toHaveLength(6);
    for (const rtt of one.rttMs) expect(rtt).toBeGreaterThan(0);
    // each of the 6 pings is a request and a reply of 14+20+8+size bytes, plus pcap record headers
    expect(one.pcapBytes).toBeGreaterThan(2 * 2 * (98 + 1042 + 1442));
    expect(one.trace.some((l) => / to-host venet0 /.test(l)) && one.trace.some((l) => / to-guest vnet0 /.test(l))).toBe(true);
    const snapshot = JSON.parse(one.introspection);
    // connection ids start at 1 for this Vbus, whatever ran before in the process
    expect(snapshot.buses[0].devices.flatMap((d: { connections: Array<{ id: number }> }) => d.connections.map((c) => c.id)).sort()).toEqual([1, 2]);

    expect(two.introspection).toBe(one.introspection);
    expect(two.pcapSha256).toBe(one.pcapSha256);
    expect(two.trace).toEqual(one.trace);
    expect(two.rttMs).toEqual(one.rttMs);
  });

  it('another seed gives other MACs, so another capture: the hashes do depend on the inputs', async () => {
    const one = await determinismExample(42);
    const other = await determinismExample(7);
    expect(other.macs).not.toEqual(one.macs);
    expect(other.pcapSha256).not.toBe(one.pcapSha256);
    // the timing does not depend on the addresses
    expect(other.rttMs).toEqual(one.rttMs);
  });
});
