import { describe, expect, it } from 'vitest';
import { EmulatorNic, type EmulatorNicBus } from './emulator-nic.js';
import { LearningSwitch } from './learning-switch.js';
import type { FrameSink } from './net-backend.js';
import { NetError } from './net-error.js';

/** An emulator's event bus as v86 has it: listeners for events, `bus.send` for messages in. */
class FakeEmulator implements EmulatorNicBus {
  readonly listeners = new Map<string, Set<(f: Uint8Array) => void>>();
  readonly received: Array<{ event: string; frame: Uint8Array }> = [];
  readonly bus = { send: (event: string, data: Uint8Array) => void this.received.push({ event, frame: data.slice() }) };
  add_listener(event: string, fn: (f: Uint8Array) => void): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(fn);
  }
  remove_listener(event: string, fn: (f: Uint8Array) => void): void {
    this.listeners.get(event)?.delete(fn);
  }
  /** The guest transmits: the emulator hands out a view of its buffer, as v86 does. */
  transmit(event: string, frame: Uint8Array): void {
    for (const fn of this.listeners.get(event) ?? []) fn(frame);
  }
}

const EMU_MAC = new Uint8Array([0x52, 0x54, 0, 0, 1, 2]);
const PEER_MAC = new Uint8Array([0x52, 0x54, 0, 0, 1, 1]);

function frame(dst: Uint8Array, src: Uint8Array, len = 60, tag = 0): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

function lan(options: { nicIndex?: number } = {}) {
  const sw = new LearningSwitch();
  const emu = new FakeEmulator();
  const nic = EmulatorNic.attach(emu, sw, { name: 'emu/net0', mac: '52:54:00:00:01:02', ...options });
  const peerFrames: Uint8Array[] = [];
  const sink: FrameSink = { deliver: (f) => (peerFrames.push(f.slice()), true) };
  const peer = sw.attach({ name: 'peer', mac: PEER_MAC }, sink);
  return { sw, emu, nic, peer, peerFrames };
}

describe('EmulatorNic: an emulator NIC (v86 bus shape) as a switch port', () => {
  it("carries the guest's frames into the switch and the switch's frames to net0-receive", () => {
    const { emu, nic, peer, peerFrames } = lan();
    emu.transmit('net0-send', frame(PEER_MAC, EMU_MAC, 60, 7));
    expect(peerFrames.map((f) => f[14])).toEqual([7]);
    expect(peer.deliver(frame(EMU_MAC, PEER_MAC, 1514, 9))).toBe(true);
    expect(emu.received.map((r) => [r.event, r.frame.length, r.frame[14]])).toEqual([['net0-receive', 1514, 9]]);
    expect(nic.portCounters).toMatchObject({ txFrames: 1, txBytes: 60, rxFrames: 1, rxBytes: 1514, drops: 0 });
  });

  it('refuses runts and frames over maxFrame from the guest, counting each as malformed and dropped', () => {
    const { emu, nic, peerFrames } = lan();
    emu.transmit('net0-send', new Uint8Array(13));
    emu.transmit('net0-send', frame(PEER_MAC, EMU_MAC, 1519));
    emu.transmit('net0-send', frame(PEER_MAC, EMU_MAC, 1518));
    expect(peerFrames).toHaveLength(1);
    expect(nic.counters.malformed).toBe(2);
    expect(nic.portCounters.drops).toBe(2);
  });

  it('is a NIC port: a guest frame from another MAC than the configured one does not get through', () => {
    const { emu, peerFrames } = lan();
    emu.transmit('net0-send', frame(PEER_MAC, new Uint8Array([0x52, 0x54, 0, 0, 9, 9])));
    expect(peerFrames).toHaveLength(0);
  });

  it('uses net<N>-send and net<N>-receive for nicIndex N', () => {
    const { emu, peer, peerFrames } = lan({ nicIndex: 1 });
    emu.transmit('net0-send', frame(PEER_MAC, EMU_MAC));
    expect(peerFrames).toHaveLength(0);
    emu.transmit('net1-send', frame(PEER_MAC, EMU_MAC));
    expect(peerFrames).toHaveLength(1);
    peer.deliver(frame(EMU_MAC, PEER_MAC));
    expect(emu.received.map((r) => r.event)).toEqual(['net1-receive']);
  });

  it('detach stops listening and leaves the switch: later frames go nowhere, deliveries toward it are drops', () => {
    const { emu, nic, peer, peerFrames } = lan();
    nic.detach();
    nic.detach();
    expect(emu.listeners.get('net0-send')!.size).toBe(0);
    emu.transmit('net0-send', frame(PEER_MAC, EMU_MAC));
    expect(peerFrames).toHaveLength(0);
    peer.deliver(frame(EMU_MAC, PEER_MAC));
    expect(emu.received).toHaveLength(0);
  });

  it('refuses a bad NIC index or maxFrame with a NetError naming the port', () => {
    const sw = new LearningSwitch();
    expect(() => EmulatorNic.attach(new FakeEmulator(), sw, { name: 'emu/x', mac: EMU_MAC, nicIndex: -1 })).toThrow(NetError);
    expect(() => EmulatorNic.attach(new FakeEmulator(), sw, { name: 'emu/x', mac: EMU_MAC, maxFrame: 20 })).toThrow(/emu\/x: maxFrame/);
  });
});
