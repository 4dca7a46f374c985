import { describe, expect, it } from 'vitest';
import { BusError, ConfigError, createVbus, GuestAllocator, InProcessConnector, Ioq, IOQ_OFF_COUNT, RegionMemory, RingError, VbusError } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { echoModule, EchoDriver, runEchoScenario } from '@vbus/core/reference/echo';

const BASE = 0x10000;
const BYTES = 4 << 20;

function setup() {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('bus0');
  return { vbus, bus };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('bus', () => {
  it('registers device classes from container modules and lists them', () => {
    const { vbus } = setup();
    expect(vbus.deviceClasses()).toEqual([{ type: 'vbus-echo', version: 1, description: expect.any(String) }]);
  });

  it('hot-plugs and unplugs devices with events, and refuses bad names, duplicates and unknown classes', () => {
    const { bus } = setup();
    const events: string[] = [];
    bus.on('device-added', (d) => events.push(`+${d.name}`));
    bus.on('device-removed', (d) => events.push(`-${d.name}`));
    bus.createDevice('vbus-echo', 'e0');
    bus.createDevice('vbus-echo', 'e1', { txCompleteEvery: 3 });
    expect(() => bus.createDevice('vbus-echo', 'e0')).toThrow(/already exists/);
    expect(() => bus.createDevice('nope', 'x')).toThrow(/no device class "nope".*vbus-echo/);
    expect(() => bus.createDevice('vbus-echo', 'bad name')).toThrow(ConfigError);
    expect(() => bus.createDevice('vbus-echo', 'e2', { txCompleteEvery: 0 })).toThrow(/txCompleteEvery/);
    bus.removeDevice('e0');
    expect(events).toEqual(['+e0', '+e1', '-e0']);
    expect(bus.devices().map((d) => d.name)).toEqual(['e1']);
    expect(bus.introspect().devices[0]!.attributes).toEqual({ txCompleteEvery: 3, pollTurns: 0 });
  });

  it('connect, call and shm verbs; disconnect events; introspection shows regions and signal counters', async () => {
    const { bus } = setup();
    bus.createDevice('vbus-echo', 'e0');
    const log: string[] = [];
    bus.on('connect', (d, id, g) => log.push(`connect ${d} ${g}`));
    bus.on('disconnect', (d, id, reason) => log.push(`disconnect ${d} ${reason}`));
    const mem = RegionMemory.create(BASE, BYTES);
    const conn = new InProcessConnector(bus, mem, { guest: 'g1' }).open('e0');
    expect(await conn.call(0, new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    await expect(conn.call(99)).rejects.toThrow(/unknown call 99/);
    await expect(conn.shm(0, 0x10, 64)).rejects.toThrow(/not inside the guest's registered memory/);
    const r = await runEchoScenario(conn, new GuestAllocator(BASE, BYTES), { burst: 10, size: 60 });
    expect(r.received).toBe(10);
    const snap = bus.introspect().devices[0]!;
    expect(snap.connections[0]!.guest).toBe('g1');
    expect(snap.connections[0]!.regions.map((x) => x.id)).toEqual([0, 1]);
    expect(snap.connections[0]!.signals[1]!.handlerRuns).toBeGreaterThan(0);
    expect(snap.counters).toMatchObject({ frames: 10, bytes: 600 });
    await conn.close();
    expect(conn.closed).toBe(true);
    await expect(conn.call(0)).rejects.toThrow(/closed/);
    expect(log).toEqual(['connect e0 g1', 'disconnect e0 closed by guest']);
  });

  it('a device that meets a hostile ring fails with a typed error; the bus and other devices go on', async () => {
    const { bus } = setup();
    bus.createDevice('vbus-echo', 'bad');
    bus.createDevice('vbus-echo', 'good');
    const failures: Array<[string, VbusError]> = [];
    bus.on('device-failed', (d, e) => failures.push([d.name, e]));
    const mem = RegionMemory.create(BASE, BYTES);
    const alloc = new GuestAllocator(BASE, BYTES);
    const badConn = new InProcessConnector(bus, mem).open('bad');
    const reasons: string[] = [];
    badConn.once('close', (r) => reasons.push(r));
    const d = await EchoDriver.open(badConn, alloc, { ringSize: 8 });
    // the guest points a tx descriptor far outside its memory
    d.send(new Uint8Array(64), { more: true });
    const it0 = d.tx.ioq.iterator(1).seek(3, 0);
    it0.ptr = 0x7fff_0000_0000;
    d.flush();
    await flush();
    expect(failures.map(([n]) => n)).toEqual(['bad']);
    expect(failures[0]![1].message).toMatch(/0x7fff00000000/);
    expect(bus.status('bad').state).toBe('failed');
    expect(badConn.closed).toBe(true);
    expect(reasons[0]).toMatch(/device failed/);
    expect(() => new InProcessConnector(bus, mem).open('bad')).toThrow(/has failed/);
    // the other device keeps moving frames
    const good = new InProcessConnector(bus, mem).open('good');
    const r = await runEchoScenario(good, alloc, { burst: 50, size: 100 });
    expect(r).toMatchObject({ received: 50, intact: true });
    // and the failed one can be reset and used again
    bus.resetDevice('bad');
    const again = new InProcessConnector(bus, mem).open('bad');
    expect((await runEchoScenario(again, alloc, { burst: 5, size: 10 })).received).toBe(5);
  });

  it('refuses a ring whose header lies about its count, naming the ring and the rule', async () => {
    const { bus } = setup();
    bus.createDevice('vbus-echo', 'e0');
    const mem = RegionMemory.create(BASE, BYTES);
    const conn = new InProcessConnector(bus, mem).open('e0');
    Ioq.format(mem, BASE, 4);
    mem.view(BASE + IOQ_OFF_COUNT, 4).set([0xff, 0xff, 0x0f, 0]);
    const err = await conn.shm(1, BASE, Ioq.byteLength(4), BASE + 8).catch((e) => e);
    expect(err).toBeInstanceOf(RingError);
    expect(err.message).toMatch(/e0\.tx header: count must be in/);
  });

  it('a guest worker terminated mid-stream: its connections close, its memory is dropped, the bus serves others', async () => {
    const { bus } = setup();
    bus.createDevice('vbus-echo', 'e0');
    bus.createDevice('vbus-echo', 'e1');
    const connector = new WorkerConnector(bus);
    const disconnects: string[] = [];
    bus.on('disconnect', (d, id, reason) => disconnects.push(`${d}: ${reason}`));
    const victim = connector.spawn(new URL('./fixtures/echo-guest.ts', import.meta.url), { name: 'victim', workerData: { device: 'e0', hang: true, size: 64 } });
    await new Promise((resolve) => victim.worker.once('message', resolve));
    // let it stream until frames are flowing, then kill it
    const frames = () => bus.introspect().devices[0]!.counters.frames as number;
    for (let i = 0; i < 500 && frames() < 1000; i++) await new Promise((r) => setTimeout(r, 10));
    const framesBefore = frames();
    expect(framesBefore).toBeGreaterThan(0);
    expect(victim.connections()).toBe(1);
    expect(victim.memoryBytes()).toBeGreaterThan(0);
    await victim.worker.terminate();
    await victim.exited;
    expect(victim.connections()).toBe(0);
    expect(victim.memoryBytes()).toBe(0);
    expect(bus.introspect().devices[0]!.connections).toEqual([]);
    expect(disconnects).toEqual([expect.stringMatching(/^e0: guest worker victim exited/)]);
    expect(bus.status('e0').state).toBe('ready');
    // another guest, on the same device, starts clean
    const next = connector.spawn(new URL('./fixtures/echo-guest.ts', import.meta.url), { workerData: { device: 'e0', burst: 100, bursts: 3, size: 64 } });
    const r = await new Promise<{ received: number; intact: boolean }>((resolve) => next.worker.once('message', resolve));
    expect(r).toMatchObject({ received: 300, intact: true });
    await next.exited;
  });

  it('errors are VbusErrors with codes, recognised across realms by brand', () => {
    const e = new BusError('x');
    expect(VbusError.is(e)).toBe(true);
    expect(VbusError.is({ ...e })).toBe(false);
    expect(e.code).toBe('bus');
  });
});

describe('shm refused by the device', () => {
  it('leaves the connection exactly as it was: no region, no signal slot', async () => {
    const { bus } = setup();
    bus.createDevice('vbus-echo', 'e0');
    const mem = RegionMemory.create(BASE, BYTES);
    const conn = new InProcessConnector(bus, mem).open('e0');
    Ioq.format(mem, BASE, 8);
    await expect(conn.shm(7, BASE, Ioq.byteLength(8), BASE + 8)).rejects.toThrow(/unknown queue id 7/);
    const snap = bus.introspect().devices[0]!.connections[0]!;
    expect(snap.regions).toEqual([]);
    expect(snap.signals).toEqual([]);
    // and the next registration gets slot 0
    Ioq.format(mem, BASE + 0x4000, 8);
    const sig = await conn.shm(1, BASE + 0x4000, Ioq.byteLength(8), BASE + 0x4000 + 8);
    expect(sig).toBeDefined();
    expect(bus.introspect().devices[0]!.connections[0]!.regions).toEqual([{ id: 1, address: BASE + 0x4000, length: Ioq.byteLength(8), slot: 0 }]);
  });
});
