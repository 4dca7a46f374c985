// The worker connector's control channel under a hostile guest (issue 10): every message is
// checked before a field is read, every limit refuses with a typed error and a counter, unknown
// verbs are refused, and the host goes on serving.
import { describe, expect, it } from 'vitest';
import { ConfigError, createVbus, InProcessConnector, IoqDriverQueue, LimitError, RegionMemory, type Bus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { echoModule } from '@vbus/core/reference/echo';
import { controlRig, throwingProxy } from '../fuzz/harness/control.js';

const BASE = 0x10000;
const SIZE = 1 << 16;

function echoBus(devices = ['echo0']): Bus {
  const bus = createVbus({ modules: [echoModule] }).vbus.createBus('b');
  for (const d of devices) bus.createDevice('vbus-echo', d, {});
  return bus;
}
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
type Reply = { t: 'reply'; req: number; ok: boolean; value?: { conn: number }; error?: { name: string; code: string; message: string } };
const reply = (received: unknown[], req: number) => received.find((m) => (m as Reply).req === req && (m as Reply).t === 'reply') as Reply | undefined;
const hello = (regions = [{ address: BASE, buffer: new SharedArrayBuffer(SIZE), offset: 0, length: SIZE }], wake?: unknown) => ({ t: 'hello', guest: 'g', regions, wake });

describe('control channel: a hostile worker guest', () => {
  it('null, numbers, arrays, huge array-likes, fake buffers, unknown verbs: each refused with a typed error, counted, and the host serves the guest afterwards', async () => {
    const bus = echoBus();
    const connector = new WorkerConnector(bus);
    const guest = connector.spawn(new URL('./fixtures/hostile-control-guest.ts', import.meta.url), { name: 'evil' });
    const report = await new Promise<{ replies: Record<string, Reply>; closedNotices: number }>((resolve, reject) => {
      guest.worker.once('message', resolve);
      guest.worker.once('error', reject);
    });
    const refusals = connector.introspect().guests[0]!.refused;
    await guest.exited;
    const r = report.replies;
    // requests 1..9 were all refused with the project's typed errors, none acknowledged
    for (const req of [1, 2, 3, 4, 5, 6, 7]) {
      expect(r[req]?.ok, `request ${req}`).toBe(false);
      expect(['protocol', 'limit'], `request ${req}: ${r[req]?.error?.message}`).toContain(r[req]!.error!.code);
    }
    expect(r[2]!.error!.message).toMatch(/unknown verb "reply"/);
    expect(r[3]!.error!.message).toMatch(/unknown verb "frobnicate"/);
    expect(r[4]!.error!.message).toMatch(/field data: must be a Uint8Array, got an object/);
    expect(r[8]!.ok).toBe(true);
    // every hello before the good one was refused, so open had no memory
    expect(r[9]!.ok).toBe(false);
    expect(r[9]!.error!.message).toMatch(/its memory regions were refused: guest evil: field wake: must be at least 8 bytes, got 0/);
    // the good hello, open and call went through
    expect(r[10]!.ok).toBe(true);
    expect(r[11]!.ok).toBe(true);
    expect(refusals.unknownVerb).toBe(2);
    expect(refusals.malformed).toBe(18);
    expect(bus.status('echo0').state).toBe('ready');
  });
});

describe('control channel: limits refuse with a LimitError and a counter', () => {
  it('connectionsPerGuest', async () => {
    const bus = echoBus(['echo0', 'echo1']);
    const rig = controlRig(bus, { connectionsPerGuest: 1 });
    rig.send(hello(), 'port');
    rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
    rig.send({ t: 'open', req: 2, name: 'echo1' }, 'port');
    await turns();
    expect(reply(rig.received, 1)!.ok).toBe(true);
    expect(reply(rig.received, 2)!.error).toMatchObject({
      name: 'LimitError',
      code: 'limit',
      message: expect.stringMatching(/limit connectionsPerGuest is 1, the request needs 2/),
    });
    expect(rig.guest.refused().connectionsPerGuest).toBe(1);
    expect(rig.guest.connections()).toBe(1);
    await rig.exit();
  });

  it('connectionsPerDevice (across guests)', async () => {
    const bus = echoBus();
    bus.setLimits({ connectionsPerDevice: 1 });
    const a = controlRig(bus, {}, 'a');
    const b = controlRig(bus, {}, 'b');
    for (const rig of [a, b]) {
      rig.send(hello(), 'port');
      rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
    }
    await turns();
    expect(reply(a.received, 1)!.ok).toBe(true);
    expect(reply(b.received, 1)!.error).toMatchObject({ code: 'limit', message: expect.stringMatching(/connectionsPerDevice is 1/) });
    expect(bus.introspect().devices[0]!.refused.connectionsPerDevice).toBe(1);
    await a.exit();
    await b.exit();
  });

  it('shmPerConnection', async () => {
    const bus = echoBus();
    bus.setLimits({ shmPerConnection: 1 });
    const mem = RegionMemory.create(BASE, SIZE);
    const conn = new InProcessConnector(bus, mem).open('echo0');
    const rx = new IoqDriverQueue(mem, BASE, 4, 'rx');
    const tx = new IoqDriverQueue(mem, BASE + 0x1000, 4, 'tx');
    await conn.shm(0, rx.ioq.address, rx.byteLength, rx.signalAddress);
    await expect(conn.shm(1, tx.ioq.address, tx.byteLength, tx.signalAddress)).rejects.toThrow(LimitError);
    expect(bus.introspect().devices[0]!.refused.shmPerConnection).toBe(1);
    expect(bus.introspect().devices[0]!.connections[0]!.regions).toHaveLength(1);
  });

  it('callBytes: refused by the connector before the bus sees it, and by the bus for any connector', async () => {
    const bus = echoBus();
    bus.setLimits({ callBytes: 16 });
    const rig = controlRig(bus);
    rig.send(hello(), 'port');
    rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
    await turns();
    const conn = reply(rig.received, 1)!.value!.conn;
    rig.send({ t: 'call', req: 2, conn, func: 0, data: new Uint8Array(16) }, 'port');
    rig.send({ t: 'call', req: 3, conn, func: 0, data: new Uint8Array(17) }, 'port');
    // a Uint8Array claiming another length: the engine's length is what counts
    const liar = new Uint8Array(17);
    Object.defineProperty(liar, 'length', { value: 1 });
    rig.send({ t: 'call', req: 4, conn, func: 0, data: liar }, 'direct');
    await turns();
    expect(reply(rig.received, 2)!.ok).toBe(true);
    expect(reply(rig.received, 3)!.error).toMatchObject({ code: 'limit', message: expect.stringMatching(/callBytes is 16, the request needs 17/) });
    expect(reply(rig.received, 4)!.error).toMatchObject({ code: 'limit' });
    expect(rig.guest.refused().callBytes).toBe(2);
    await rig.exit();
    const inProc = new InProcessConnector(bus, RegionMemory.create(BASE, SIZE)).open('echo0');
    await expect(inProc.call(0, new Uint8Array(17))).rejects.toThrow(/callBytes is 16/);
    expect(bus.introspect().devices[0]!.refused.callBytes).toBe(1);
  });

  it('regionsPerGuest and memoryPerGuest: the hello is refused (it has no request number), the next open says why', async () => {
    const bus = echoBus();
    for (const [limits, rule] of [
      [{ regionsPerGuest: 1 }, /regionsPerGuest is 1, the request needs 2/],
      [{ memoryPerGuest: SIZE }, /memoryPerGuest is 65536, the request needs 131072/],
    ] as const) {
      const rig = controlRig(bus, limits);
      const two = [
        { address: BASE, buffer: new SharedArrayBuffer(SIZE), offset: 0, length: SIZE },
        { address: BASE + SIZE, buffer: new SharedArrayBuffer(SIZE), offset: 0, length: SIZE },
      ];
      rig.send(hello(two), 'port');
      rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
      await turns();
      expect(reply(rig.received, 1)!.error!.message).toMatch(rule);
      const counters = rig.guest.refused();
      expect(counters.regionsPerGuest + counters.memoryPerGuest).toBe(1);
      expect(rig.guest.memoryBytes()).toBe(0);
      await rig.exit();
    }
  });

  it('requestsInFlight', async () => {
    const bus = echoBus();
    const rig = controlRig(bus, { requestsInFlight: 1 });
    rig.send(hello(), 'port');
    await turns();
    // three requests in one turn: the first is still being served when the others arrive
    for (const req of [1, 2, 3]) rig.send({ t: 'devices', req }, 'direct');
    await turns();
    expect(reply(rig.received, 1)!.ok).toBe(true);
    expect(reply(rig.received, 2)!.error).toMatchObject({ code: 'limit', message: expect.stringMatching(/requestsInFlight is 1/) });
    expect(rig.guest.refused().requestsInFlight).toBe(2);
    await rig.exit();
  });

  it('the wake word must be a real SharedArrayBuffer of at least 8 bytes (its sequence and asleep words)', async () => {
    const bus = echoBus();
    for (const wake of [
      new SharedArrayBuffer(0),
      new SharedArrayBuffer(3),
      new SharedArrayBuffer(4),
      new ArrayBuffer(8),
      new Int32Array(new SharedArrayBuffer(8)),
      { byteLength: 8 },
    ]) {
      const rig = controlRig(bus);
      rig.send(hello(undefined, wake), 'direct');
      rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
      await turns();
      expect(reply(rig.received, 1)!.ok).toBe(false);
      expect(rig.guest.refused().malformed).toBe(1);
      await rig.exit();
    }
  });

  it('getters and proxy get traps are never run', async () => {
    const bus = echoBus();
    const rig = controlRig(bus);
    let ran = 0;
    const trap = new Proxy(
      {},
      {
        get: () => ++ran,
        getOwnPropertyDescriptor: () => {
          throw new Error('descriptor trap');
        },
      },
    );
    const getter = Object.defineProperty({ t: 'open', name: 'echo0' }, 'req', { enumerable: true, get: () => ++ran });
    rig.send(trap, 'direct');
    rig.send(getter, 'direct');
    rig.send(
      {
        t: 'hello',
        guest: 'g',
        get regions() {
          return ++ran;
        },
      },
      'direct',
    );
    await turns();
    expect(rig.guest.refused().malformed).toBe(3);
    expect(ran).toBe(0);
    await rig.exit();
  });

  it('a proxy whose traps throw, in any field (regions, a region, the message), is refused naming the field, never with the text the trap of the guest threw', async () => {
    const revoked = Proxy.revocable([], {});
    revoked.revoke();
    const cases: Array<{ msg: unknown; field: string }> = [
      { msg: { t: 'hello', guest: 'g', regions: throwingProxy([]) }, field: 'regions.length' },
      { msg: hello([throwingProxy({}) as never]), field: 'regions[0].buffer' },
      { msg: { t: 'hello', guest: 'g', regions: revoked.proxy }, field: 'regions' },
    ];
    for (const { msg, field } of cases) {
      const bus = echoBus();
      const rig = controlRig(bus);
      rig.send(msg, 'direct');
      rig.send({ t: 'open', req: 1, name: 'echo0' }, 'port');
      await turns();
      const r = reply(rig.received, 1);
      expect(r?.ok).toBe(false);
      // the open is refused because the hello was: what was wrong, and where
      expect(r!.error!.message).toContain(`its memory regions were refused: guest hostile: field ${field}: could not be read`);
      expect(r!.error!.message).not.toMatch(/trap ran/);
      expect(rig.guest.refused().malformed).toBe(1);
      await rig.exit();
    }
  });

  it('limits are configurable and checked', () => {
    const bus = echoBus();
    expect(() => new WorkerConnector(bus, { limits: { connectionsPerGuest: 0 } })).toThrow(ConfigError);
    expect(() => new WorkerConnector(bus, { limits: { nope: 1 } as never })).toThrow(/unknown limit/);
    expect(() => bus.setLimits({ callBytes: 1.5 })).toThrow(ConfigError);
    expect(bus.limits).toEqual({ connectionsPerDevice: 256, shmPerConnection: 64, callBytes: 65536, closedConnectionsKept: 16 });
    expect(new WorkerConnector(bus).introspect().limits).toEqual({ connectionsPerGuest: 64, regionsPerGuest: 16, memoryPerGuest: 2 ** 32, requestsInFlight: 256 });
  });
});
