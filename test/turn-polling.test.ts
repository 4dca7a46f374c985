// Devices poll their tx ring for a few turns of the loop before they unmask the kick (pollTurns):
// a frame sent while the device still polls needs no kick, one sent after it unmasked gets one.
// Drivers can do the same on rx (rxPollTurns): a frame delivered while the driver still polls
// needs no interrupt.
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { EchoDriver, echoModule } from '@vbus/core/reference/echo';
import { CaptureBackend } from '@vbus/net/testing';
import { venetModule, VenetDriver } from '@vbus/venet';
import { virtioNetModule, VirtioNetDriver } from '@vbus/virtio-compat';

const MB = 1 << 20;
const turns = (n: number) =>
  new Promise<void>((resolve) => {
    const step = (k: number) => (k === 0 ? resolve() : setImmediate(() => step(k - 1)));
    step(n);
  });
const frame = Uint8Array.from({ length: 60 }, (_, i) => (i < 6 ? 0xff : i));

type Kind = 'venet' | 'virtio-net';

/** A bus with one NIC of `kind` (device config `config`) and its driver (options `driver`), in process. */
async function openNic(kind: Kind, config: Record<string, unknown>, driver: { rxPollTurns?: number } = {}) {
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('poll');
  bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic0', config);
  const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, 8 * MB)).open('nic0');
  const allocator = new GuestAllocator(0x10000, 8 * MB);
  const nic = kind === 'venet' ? await VenetDriver.open(conn, allocator, driver) : await VirtioNetDriver.open(conn, allocator, driver);
  /** The device's counters of its tx or rx queue (venet names them tx/rx, virtio-net tx0/rx0). */
  const queue = (dir: 'tx' | 'rx') => {
    const c = bus.introspect().devices[0]!.counters as Record<string, { drops: number; interrupts: number }>;
    return (c[dir] ?? c[`${dir}0`])!;
  };
  return { nic, queue };
}

async function setup(kind: Kind, pollTurns: number) {
  const { nic, queue } = await openNic(kind, { pollTurns });
  // no backend: every frame the device takes off the ring is a counted tx drop
  const taken = () => queue('tx').drops;
  const kicks = () => nic.signalCounters().tx.injected;
  return { nic, taken, kicks };
}

describe.each(['venet', 'virtio-net'] as const)('%s: pollTurns', (kind) => {
  it('a frame sent while the device still polls is taken without a kick; after the polling turns, the next frame kicks', async () => {
    const { nic, taken, kicks } = await setup(kind, 8);
    await turns(20);
    const k0 = kicks();
    nic.send(frame);
    await turns(1);
    expect(taken()).toBe(1);
    expect(kicks() - k0).toBe(1);
    // the device drained and polls: this frame is found on one of its turns
    nic.send(frame);
    await turns(3);
    expect(taken()).toBe(2);
    expect(kicks() - k0).toBe(1);
    // more than 8 empty turns: it unmasked, so the next frame kicks
    await turns(20);
    nic.send(frame);
    await turns(1);
    expect(taken()).toBe(3);
    expect(kicks() - k0).toBe(2);
  });

  it('with pollTurns 0 the device unmasks at once: every lone frame kicks', async () => {
    const { nic, taken, kicks } = await setup(kind, 0);
    await turns(5);
    const k0 = kicks();
    for (let i = 1; i <= 3; i++) {
      nic.send(frame);
      await turns(2);
      expect(taken()).toBe(i);
    }
    expect(kicks() - k0).toBe(3);
  });

  it('refuses a bad pollTurns, naming it', () => {
    const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
    const bus = vbus.createBus('poll');
    expect(() => bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'bad', { pollTurns: -1 })).toThrow(/pollTurns/);
  });
});

describe('the echo device: pollTurns (default 0)', () => {
  async function echo(config: Record<string, unknown>) {
    const { vbus } = createVbus({ modules: [echoModule] });
    const bus = vbus.createBus('poll');
    bus.createDevice('vbus-echo', 'echo0', config);
    const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, 8 * MB)).open('echo0');
    const d = await EchoDriver.open(conn, new GuestAllocator(0x10000, 8 * MB), { ringSize: 16 });
    let echoed = 0;
    d.onFrame = () => echoed++;
    // kicks the driver sent (one that finds the device masked counts as suppressed)
    const kicks = () => d.signalCounters().tx.injected;
    return { d, bus, echoed: () => echoed, kicks };
  }

  it('polling 8 turns: a frame sent while the device polls is echoed without a kick; after the turns the next one kicks', async () => {
    const { d, echoed, kicks } = await echo({ pollTurns: 8 });
    await turns(20);
    const k0 = kicks();
    d.send(frame);
    await turns(2);
    expect(echoed()).toBe(1);
    expect(kicks() - k0).toBe(1);
    d.send(frame);
    await turns(3);
    expect(echoed()).toBe(2);
    expect(kicks() - k0).toBe(1);
    await turns(20);
    d.send(frame);
    await turns(2);
    expect(echoed()).toBe(3);
    expect(kicks() - k0).toBe(2);
  });

  it('by default it unmasks at once (every lone frame kicks), and a bad pollTurns is refused naming it', async () => {
    const { d, bus, echoed, kicks } = await echo({});
    expect(bus.introspect().devices[0]!.attributes).toMatchObject({ pollTurns: 0 });
    await turns(5);
    const k0 = kicks();
    for (let i = 1; i <= 3; i++) {
      d.send(frame);
      await turns(2);
      expect(echoed()).toBe(i);
    }
    expect(kicks() - k0).toBe(3);
    expect(() => bus.createDevice('vbus-echo', 'bad', { pollTurns: 1025 })).toThrow(/pollTurns/);
  });
});

describe.each(['venet', 'virtio-net'] as const)('%s driver: rxPollTurns', (kind) => {
  async function receiver(rxPollTurns: number) {
    const source = new CaptureBackend();
    const { nic, queue } = await openNic(kind, { backend: source }, { rxPollTurns });
    let received = 0;
    nic.onFrame = () => received++;
    await turns(5);
    // rx interrupts the device sent (a signal that found the driver masked counts as suppressed)
    const interrupts = () => queue('rx').interrupts;
    return { nic, deliver: () => source.inject(frame), received: () => received, interrupts };
  }

  it('a frame delivered while the driver still polls is received without an interrupt; once the turns run out, the next one interrupts', async () => {
    // this connector's turns are scheduler tasks (microtasks): enough of them that the driver
    // still polls a few microtasks later
    const { deliver, received, interrupts } = await receiver(1000);
    const microtasks = async (n: number) => {
      for (let i = 0; i < n; i++) await Promise.resolve();
    };
    const i0 = interrupts();
    expect(deliver()).toBe(true);
    await microtasks(10);
    expect(received()).toBe(1);
    expect(interrupts() - i0).toBe(1);
    expect(deliver()).toBe(true); // the driver polls: no interrupt
    await microtasks(10);
    expect(received()).toBe(2);
    expect(interrupts() - i0).toBe(1);
    await turns(50); // the polling turns run out and the driver unmasks
    expect(deliver()).toBe(true);
    await turns(1);
    expect(received()).toBe(3);
    expect(interrupts() - i0).toBe(2);
  });

  it('with rxPollTurns 0 (the default) every lone frame interrupts', async () => {
    const { deliver, received, interrupts } = await receiver(0);
    const i0 = interrupts();
    for (let i = 1; i <= 3; i++) {
      expect(deliver()).toBe(true);
      await turns(2);
      expect(received()).toBe(i);
    }
    expect(interrupts() - i0).toBe(3);
  });

  it('refuses a bad rxPollTurns, naming it', async () => {
    await expect(openNic(kind, {}, { rxPollTurns: 2000 })).rejects.toThrow(/rxPollTurns/);
  });
});
