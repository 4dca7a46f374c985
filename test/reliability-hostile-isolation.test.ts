// Isolation between guests (docs/reliability-hostile.md): a guest reaches only its own memory,
// only devices on its own bus, registers shared memory only inside its own regions, and on a
// switch sees only broadcast/flooded frames and frames addressed to it.
import { describe, expect, it } from 'vitest';
import { BusError, VbusError, GuestAllocator, InProcessConnector, Ioq, IoqDriverQueue, RegionMemory, createVbus, type DeviceClass, type GuestMemory } from '@vbus/core';
import { ContainerModule } from 'inversify';
import { DeviceClass as DeviceClassToken } from '@vbus/core';
import { VENET_QUEUE_RX, VenetDriver, venetModule } from '@vbus/venet';
import { LearningSwitch, SEND_MORE, SEND_NOW } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { RecordingMemory } from '../fuzz/recording-memory.js';
import { checkMemory, settleQuiet } from '../fuzz/oracle.js';

const A_BASE = 0x10000;
const B_BASE = 0x40_0000;
const BYTES = 1 << 20;

/** A device that only remembers the memory each connection was given. */
function probeModule(seen: GuestMemory[]): ContainerModule {
  const cls: DeviceClass<object> = {
    type: 'probe',
    version: 1,
    description: 'records the memory a connection gets',
    configKeys: [],
    validate: () => ({}),
    create: () => ({
      type: 'probe',
      attributes: () => ({}),
      counters: () => ({}),
      open: (c) => {
        seen.push(c.memory);
        return { call: () => new Uint8Array(0), shm: () => {}, close: () => {} };
      },
    }),
  };
  return new ContainerModule((o) => {
    o.bind(DeviceClassToken).toConstantValue(cls);
  });
}

function frameTo(dst: Uint8Array, src: Uint8Array, tag: number, fill = 0): Uint8Array {
  const f = new Uint8Array(64).fill(fill);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

async function venetGuest(bus: ReturnType<ReturnType<typeof createVbus>['vbus']['createBus']>, name: string, base = A_BASE) {
  const raw = RegionMemory.create(base, BYTES);
  const mem = new RecordingMemory(raw);
  const conn = new InProcessConnector(bus, mem, { guest: name }).open(name);
  const d = await VenetDriver.open(conn, new GuestAllocator(base, BYTES), { ringSize: 16, eventq: 0, sg: 0 });
  return { raw, mem, conn, d };
}

describe('isolation: memory', () => {
  it("each connection's memory holds only its own guest's regions", async () => {
    const seen: GuestMemory[] = [];
    const { vbus } = createVbus({ modules: [probeModule(seen)] });
    const bus = vbus.createBus('bus0');
    bus.createDevice('probe', 'p0');
    bus.createDevice('probe', 'p1');
    const a = RegionMemory.create(A_BASE, BYTES);
    const b = RegionMemory.create(B_BASE, BYTES);
    new InProcessConnector(bus, a).open('p0');
    new InProcessConnector(bus, b).open('p1');
    expect(seen).toHaveLength(2);
    expect(seen[0]!.regions().map((r) => [r.address, r.length])).toEqual([[A_BASE, BYTES]]);
    expect(seen[1]!.regions().map((r) => [r.address, r.length])).toEqual([[B_BASE, BYTES]]);
    expect(seen[0]!.contains(B_BASE + 64, 64)).toBe(false);
    expect(seen[1]!.contains(A_BASE + 64, 64)).toBe(false);
    expect(() => seen[0]!.view(B_BASE + 64, 64)).toThrow(/not inside one registered region/);
  });

  it("a descriptor pointing at an address valid in guest B's memory but not A's fails A's device; B goes on", async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus = vbus.createBus('bus0');
    const evil = new CaptureBackend();
    const good = new CaptureBackend();
    bus.createDevice('virtual-ethernet', 'venetA', { backend: evil });
    bus.createDevice('virtual-ethernet', 'venetB', { backend: good });
    const failures: string[] = [];
    bus.on('device-failed', (info, err) => failures.push(`${info.name}: ${err.message}`));
    const A = await venetGuest(bus, 'venetA', A_BASE);
    const B = await venetGuest(bus, 'venetB', B_BASE);
    const secretAt = B_BASE + BYTES - 4096;
    B.raw.view(secretAt, 64).set(frameTo(new Uint8Array(6).fill(0xee), new Uint8Array(6).fill(0xee), 0x5e, 0x5e));
    A.d.tx.post(secretAt, 64, 0);
    A.d.tx.kick();
    await settleQuiet([A.mem, B.mem], 'cross-guest pointer', { until: () => failures.length > 0 });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^venetA: ring venetA\.tx index \d+: frame at 0x[0-9a-f]+\+64 is outside guest memory/);
    expect(evil.frames).toHaveLength(0);
    checkMemory(A.mem, 'A');
    // B still moves frames both ways, and its secret never left through A
    let got = 0;
    B.d.onFrame = () => got++;
    B.d.send(frameTo(new Uint8Array(6).fill(2), B.d.mac, 1));
    good.inject(frameTo(B.d.mac, new Uint8Array(6).fill(2), 2));
    await settleQuiet([B.mem], 'B after', { until: () => got === 1 && good.frames.length === 1 });
    expect(bus.status('venetB').state).toBe('ready');
    expect(good.frames).toHaveLength(1);
    expect(got).toBe(1);
  });

  it("two guests at the same guest addresses: A's pointer reaches A's bytes, never B's", async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus = vbus.createBus('bus0');
    const outA = new CaptureBackend();
    bus.createDevice('virtual-ethernet', 'venetA', { backend: outA });
    bus.createDevice('virtual-ethernet', 'venetB', { backend: new CaptureBackend() });
    const A = await venetGuest(bus, 'venetA', A_BASE);
    const B = await venetGuest(bus, 'venetB', A_BASE);
    const at = A_BASE + BYTES - 4096;
    B.raw.view(at, 64).fill(0x5e); // B's secret
    A.raw.view(at, 64).set(frameTo(new Uint8Array(6).fill(2), A.d.mac, 7, 0xa1));
    A.d.tx.post(at, 64, 0);
    A.d.tx.kick();
    await settleQuiet([A.mem, B.mem], 'same addresses', { until: () => outA.frames.length === 1 });
    expect(outA.frames).toHaveLength(1);
    // A's payload bytes, not B's secret (0x5e) at the same guest address
    expect([...outA.frames[0]!.frame.subarray(15)].every((b) => b === 0xa1)).toBe(true);
  });
});

describe('isolation: buses', () => {
  it('a guest cannot open or see a device that is not on its bus', async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus0 = vbus.createBus('bus0');
    const bus1 = vbus.createBus('bus1');
    bus0.createDevice('virtual-ethernet', 'mine');
    bus1.createDevice('virtual-ethernet', 'theirs');
    const connector = new InProcessConnector(bus0, RegionMemory.create(A_BASE, BYTES));
    expect(() => connector.open('theirs')).toThrow(BusError);
    expect(() => connector.open('theirs')).toThrow(/bus bus0: no device named "theirs"/);
    const guestBus = connector.guestBus();
    expect((await guestBus.devices()).map((d) => d.name)).toEqual(['mine']);
    await expect(guestBus.open('theirs')).rejects.toThrow(BusError);
    expect(bus1.introspect().devices[0]!.connections).toHaveLength(0);
  });
});

describe('isolation: shm registration', () => {
  it('a guest cannot register shared memory or a signal outside its regions; the device is unharmed', async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus = vbus.createBus('bus0');
    bus.createDevice('virtual-ethernet', 'venet0', { backend: new CaptureBackend() });
    const raw = RegionMemory.create(A_BASE, BYTES);
    raw.addRegion(B_BASE, new SharedArrayBuffer(0x1000));
    const mem = new RecordingMemory(raw);
    const conn = new InProcessConnector(bus, mem).open('venet0');
    const q = new IoqDriverQueue(raw, A_BASE + 0x1000, 8, 'venet0.rx');
    const len = Ioq.byteLength(8);
    const attempts: Array<[string, number, number, number | undefined]> = [
      ['below the region', A_BASE - len, len, undefined],
      ['straddling the end', A_BASE + BYTES - 16, len, undefined],
      ['between two regions', A_BASE + BYTES + 0x1000, len, undefined],
      ['straddling two regions', B_BASE - 8, 0x1008 + 8, undefined],
      ['beyond 2^53', 2 ** 53, len, undefined],
      ['negative address', -4096, len, undefined],
      ['zero length', A_BASE + 0x1000, 0, undefined],
      ['signal outside memory', A_BASE + 0x1000, len, B_BASE + 0x2000],
      ['signal not 4-aligned', A_BASE + 0x1000, len, q.signalAddress + 1],
    ];
    // through the guest library (which checks the signal descriptor itself first) ...
    for (const [what, address, length, signal] of attempts) {
      const e = await conn.shm(VENET_QUEUE_RX, address, length, signal).then(
        () => null,
        (x: unknown) => x,
      );
      expect(VbusError.is(e), what).toBe(true);
    }
    await expect(conn.shm(VENET_QUEUE_RX, A_BASE + BYTES - 16, len, q.signalAddress)).rejects.toThrow(/not inside the guest's registered memory/);
    // ... and straight at the host's verb, as a guest that bypasses its library (a worker
    // sending raw control messages) would: the host refuses every one with a BusError
    bus.createDevice('virtual-ethernet', 'venet1', { backend: new CaptureBackend() });
    const host = bus.connect('venet1', { guest: 'raw', memory: mem, toGuest: { ring: () => {} }, onClosed: () => {} });
    for (const [what, address, length, signal] of attempts) expect(() => host.shm(VENET_QUEUE_RX, address, length, signal), what).toThrow(BusError);
    expect(host.snapshot().regions).toEqual([]);
    host.close();
    checkMemory(mem, 'shm refusals');
    expect(bus.status('venet0').state).toBe('ready');
    // the same connection can still register the ring properly, and a fresh driver works
    await conn.close();
    const B = await venetGuest(bus, 'venet0', B_BASE + 0x10_0000);
    expect(B.d.linkUp).toBe(true);
  });
});

describe('isolation: switch forwarding', () => {
  it('a guest on a learning switch sees only broadcast/flooded frames and frames addressed to it', async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus = vbus.createBus('bus0');
    const sw = new LearningSwitch({ name: 'sw0' });
    const names = ['A', 'B', 'C'];
    names.forEach((n, i) => bus.createDevice('virtual-ethernet', n, { backend: sw, mac: `52:54:00:00:00:0${i + 1}` }));
    const [A, B, C] = await Promise.all(names.map((n) => venetGuest(bus, n)));
    const got: Record<string, Uint8Array[]> = { A: [], B: [], C: [] };
    for (const [n, g] of [
      ['A', A!],
      ['B', B!],
      ['C', C!],
    ] as const)
      g.d.onFrame = (f) => got[n]!.push(f.slice());
    const bcast = new Uint8Array(6).fill(0xff);
    const unknown = Uint8Array.from([0x52, 0x54, 0, 0, 0, 0x99]);
    // everyone announces itself (the switch learns), then unicast, then an unknown destination
    A!.d.send(frameTo(bcast, A!.d.mac, 1));
    B!.d.send(frameTo(bcast, B!.d.mac, 2));
    C!.d.send(frameTo(bcast, C!.d.mac, 3));
    await settleQuiet([A!.mem, B!.mem, C!.mem], 'announce');
    for (let i = 0; i < 5; i++) A!.d.send(frameTo(B!.d.mac, A!.d.mac, 10 + i), i < 4 ? SEND_MORE : SEND_NOW);
    for (let i = 0; i < 3; i++) B!.d.send(frameTo(A!.d.mac, B!.d.mac, 20 + i), i < 2 ? SEND_MORE : SEND_NOW);
    A!.d.send(frameTo(C!.d.mac, A!.d.mac, 30));
    A!.d.send(frameTo(unknown, A!.d.mac, 40));
    await settleQuiet([A!.mem, B!.mem, C!.mem], 'traffic');
    const tags = (n: string) => got[n]!.map((f) => f[14]).sort((x, y) => x! - y!);
    expect(tags('C')).toEqual([1, 2, 30, 40]); // two broadcasts, its own unicast, one flood
    expect(tags('B')).toEqual([1, 3, 10, 11, 12, 13, 14, 40]);
    expect(tags('A')).toEqual([2, 3, 20, 21, 22]);
    // and every frame C saw was broadcast, addressed to C, or to an address the switch did not know
    for (const f of got.C!) {
      const dst = f.subarray(0, 6);
      const ok = dst.every((x) => x === 0xff) || dst.every((x, i) => x === C!.d.mac[i]) || dst.every((x, i) => x === unknown[i]);
      expect(ok).toBe(true);
    }
    for (const g of [A!, B!, C!]) checkMemory(g.mem, 'switch');
  });
});
