// Issue 10, host side: a hostile guest or socket peer against packages/net and the NIC devices.
// One describe per attack class; each test failed on the branch point (0599c6c).
import { describe, expect, it } from 'vitest';
import { VENET_CAP_SG, VENET_CAP_TSO4, VenetDriver, type VenetDevice } from '@vbus/venet';
import { GSO_MAX_SEGMENTS, GSO_TCPV4, IPPROTO_TCP, buildIpv4Frame, buildTcpSegment, locateL4, parseIpv4 } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { addVenet, inProcessGuest, newVenetBus, settle } from './fixtures/venet-harness.js';

const macA = Uint8Array.of(2, 0, 0, 0, 0, 1);
const macB = Uint8Array.of(2, 0, 0, 0, 0, 2);

function tcp(payload: number): Uint8Array {
  const seg = buildTcpSegment({ srcPort: 1000, dstPort: 2000, seq: 1, ack: 0, flags: 0x18, data: new Uint8Array(payload) });
  return buildIpv4Frame({ srcMac: macA, dstMac: macB, srcIp: parseIpv4('192.0.2.1'), dstIp: parseIpv4('192.0.2.2'), protocol: IPPROTO_TCP, payload: seg });
}

describe('GSO bombs: one guest frame never costs more than GSO_MAX_SEGMENTS frames', () => {
  it('venet refuses GSO metadata below the minimum size or over the segment cap as a counted drop with a reason', async () => {
    const bus = newVenetBus();
    const backend = new CaptureBackend();
    addVenet(bus, 'venet0', { mac: '02:00:00:00:00:01', backend });
    const guest = inProcessGuest(bus, 'venet0');
    const d = await VenetDriver.open(guest.conn, guest.allocator, { sg: VENET_CAP_SG | VENET_CAP_TSO4, eventq: 0, bufferSize: 32768, ringSize: 32 });
    const dev = bus.device<VenetDevice>('venet0');
    const gso = (f: Uint8Array, size: number) => ({
      offload: { needsCsum: true, csumStart: locateL4(f)!.l4Offset, csumOffset: 16, gsoType: GSO_TCPV4, gsoSize: size, hdrLen: 54 },
    });
    const small = tcp(8000); // at size 1: 8000 segments
    expect(d.sendv([small], gso(small, 1))).toBe(true);
    const many = tcp(20000); // at size 100: 200 segments
    expect(d.sendv([many], gso(many, 100))).toBe(true);
    const fine = tcp(20000); // at size 1448: 14 segments
    expect(d.sendv([fine], gso(fine, 1448))).toBe(true);
    await settle(() => d.txInFlight === 0);
    expect(backend.frames.map((f) => f.offload?.gsoSize)).toEqual([1448]);
    expect(dev.txDrops.gso).toBe(2);
    expect(dev.txDrops.lastReason).toMatch(/more than 128/);
    expect(dev.stats.tx).toMatchObject({ frames: 1, drops: 2 });
    expect(bus.status('venet0').state).toBe('ready');
    expect(GSO_MAX_SEGMENTS).toBe(128);
  });
});
