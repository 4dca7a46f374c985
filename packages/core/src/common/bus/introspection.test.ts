import { describe, expect, it } from 'vitest';
import { ContainerModule } from 'inversify';
import { createVbus } from './container.js';
import { DeviceClass, type Device } from './device.js';
import { InProcessConnector } from '../connector/in-process.js';
import { RegionMemory } from '../memory/region-memory.js';
import { GuestAllocator } from '../memory/allocator.js';
import { MemoryAccessError, VbusError } from '../errors.js';
import { Ioq } from '../ioq/ioq.js';
import { IoqDriverQueue } from '../ioq/queue-ends.js';
import { EchoDriver, echoModule, runEchoScenario } from '../../reference/echo/index.js';

const BASE = 0x10000;
const BYTES = 8 << 20;

function echoBus() {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('vbus-echo', 'e0', { txCompleteEvery: 4 });
  return { vbus, bus };
}

describe('introspection a plugin author can read', () => {
  it("shows the guest's kicks per signal, and which queue each signal belongs to", async () => {
    const { bus } = echoBus();
    const conn = new InProcessConnector(bus, RegionMemory.create(BASE, BYTES)).open('e0');
    const driver = await EchoDriver.open(conn, new GuestAllocator(BASE, BYTES));
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 5; i++) driver.send(new Uint8Array(64), { more: i < 4 });
      await new Promise((r) => setImmediate(r));
    }
    const c = bus.introspect().devices[0]!.connections[0]!;
    const tx = c.signals.find((s) => s.region === 1)!;
    // every kick the guest sent crossed (the device drains between bursts) and is seen on the host
    expect(driver.txSignalCounters.injected).toBe(3);
    expect(tx.kicks).toBe(3);
    expect(c.signals.map((s) => s.region)).toEqual([0, 1]);
    expect(c.closed).toBeNull();
  });

  it("keeps a closed connection's final snapshot until it is read, and at most closedConnectionsKept of them", async () => {
    const { bus } = echoBus();
    const memory = RegionMemory.create(BASE, BYTES);
    const conn = new InProcessConnector(bus, memory, { guest: 'g1' }).open('e0');
    const r = await runEchoScenario(conn, new GuestAllocator(BASE, BYTES), { burst: 10, size: 60 });
    expect(r.received).toBe(10);
    await conn.close();
    let d = bus.introspect().devices[0]!;
    expect(d.connections).toEqual([]);
    expect(d.closedConnections).toHaveLength(1);
    expect(d.closedConnections[0]).toMatchObject({ id: 1, guest: 'g1', closed: 'closed by guest', counters: { frames: 10, bytes: 600 } });
    expect(d.closedConnections[0]!.signals.find((s) => s.region === 1)!.kicks).toBeGreaterThan(0);
    // introspect() does not consume them; takeClosedConnections() does
    expect(bus.introspect().devices[0]!.closedConnections).toHaveLength(1);
    expect(bus.takeClosedConnections('e0').map((c) => c.id)).toEqual([1]);
    expect(bus.introspect().devices[0]!.closedConnections).toEqual([]);

    bus.setLimits({ closedConnectionsKept: 2 });
    for (let i = 0; i < 3; i++) await new InProcessConnector(bus, memory).open('e0').close();
    d = bus.introspect().devices[0]!;
    expect(d.closedConnections.map((c) => c.id)).toEqual([3, 4]);
    expect(d.closedDropped).toBe(1);
  });

  it('the final snapshots survive a reset of the device', async () => {
    const { bus } = echoBus();
    await new InProcessConnector(bus, RegionMemory.create(BASE, BYTES)).open('e0').close();
    bus.resetDevice('e0');
    expect(bus.introspect().devices[0]!.closedConnections.map((c) => c.closed)).toEqual(['closed by guest']);
  });

  it('ids are counted per Vbus: two identical runs in one process give identical introspection', async () => {
    const run = async (): Promise<string> => {
      const { vbus, bus } = echoBus();
      for (let i = 0; i < 2; i++) {
        const conn = new InProcessConnector(bus, RegionMemory.create(BASE, BYTES), { guest: `g${i}` }).open('e0');
        await runEchoScenario(conn, new GuestAllocator(BASE, BYTES), { burst: 7, size: 100 });
      }
      return JSON.stringify(vbus.introspect());
    };
    const one = await run();
    expect(JSON.parse(one).buses[0].devices[0].connections.map((c: { id: number }) => c.id)).toEqual([1, 2]);
    expect(await run()).toBe(one);
  });
});

describe('a fault from guest memory names the device, the connection and the queue', () => {
  /** A device whose queue-1 handler reads a guest address the guest never registered. */
  const wildModule = new ContainerModule((o) => {
    const cls: DeviceClass<object> = {
      type: 'wild',
      version: 1,
      description: 'reads outside guest memory on a kick',
      configKeys: [],
      validate: () => ({}),
      create: (): Device => ({
        type: 'wild',
        attributes: () => ({}),
        counters: () => ({}),
        open: () => ({
          call: () => new Uint8Array(0),
          close: () => {},
          shm: (reg) => {
            if (reg.signal) reg.signal.handler = () => void reg.memory.view(0xdead_0000, 16);
          },
        }),
      }),
    };
    o.bind<DeviceClass<object>>(DeviceClass).toConstantValue(cls);
  });

  it('keeps the error class and fields, and adds the context in a field and in the message', async () => {
    const { vbus } = createVbus({ modules: [wildModule] });
    const bus = vbus.createBus('b');
    bus.createDevice('wild', 'w0');
    const failures: VbusError[] = [];
    bus.on('device-failed', (_d, e) => failures.push(e));
    const memory = RegionMemory.create(BASE, BYTES);
    const alloc = new GuestAllocator(BASE, BYTES);
    const conn = new InProcessConnector(bus, memory).open('w0');
    const queues = [0, 1].map((i) => new IoqDriverQueue(memory, alloc.alloc(Ioq.byteLength(8), 8), 8, `w0.q${i}`));
    await conn.shm(0, queues[0]!.ioq.address, queues[0]!.byteLength);
    const signal = (await conn.shm(1, queues[1]!.ioq.address, queues[1]!.byteLength, queues[1]!.signalAddress))!;
    signal.inject();
    await new Promise((r) => setImmediate(r));
    expect(failures).toHaveLength(1);
    const e = failures[0]!;
    expect(e).toBeInstanceOf(MemoryAccessError);
    expect((e as MemoryAccessError).address).toBe(0xdead_0000);
    expect(e.context).toEqual({ device: 'w0', connection: 1, queue: 1 });
    expect(e.message).toMatch(/^device w0, connection 1, queue 1: read|view/);
    expect(bus.introspect().devices[0]!.error).toMatch(/device w0, connection 1, queue 1:/);
  });
});
