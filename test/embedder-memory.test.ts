// Worker guests on memory the embedder provides (issue 12): real worker threads, a real
// SharedArrayBuffer, NICs moving frames through rings placed where the embedder said.
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createVbus } from '@vbus/core';
import { WorkerConnector, type WorkerGuest } from '@vbus/core/node';
import { LearningSwitch } from '@vbus/net';
import { venetModule, type VenetDevice } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { NicGuestHandle } from '@vbus/guest-nic';

const GUEST = new URL('./fixtures/embedder-memory-guest.ts', import.meta.url);
const MiB = 1 << 20;

function next<T>(w: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

const started: WorkerGuest[] = [];
afterEach(async () => {
  for (const g of started.splice(0)) {
    await g.worker.terminate();
    await g.exited;
  }
});

function newBus() {
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('emb');
  const sw = new LearningSwitch({ name: 'sw' });
  bus.createDevice('virtual-ethernet', 'venet0', { backend: sw, mac: '52:54:00:00:00:0a' });
  bus.createDevice('virtio-net', 'vnet0', { backend: sw, mac: '52:54:00:00:00:0b' });
  return { bus, connector: new WorkerConnector(bus) };
}

describe('worker guests on embedder memory', () => {
  it("a venet guest in the embedder's flat RAM and a virtio-net guest in regions it chose ping each other; the embedder's own bytes stay untouched", async () => {
    const { bus, connector } = newBus();
    // the embedder's RAM: guest addresses [0, 8 MiB); its first 4 MiB are the embedder's own
    // (a kernel image, say: a pattern that must survive), the driver allocates in the upper 4 MiB
    const ram = new SharedArrayBuffer(8 * MiB);
    const bytes = new Uint8Array(ram);
    bytes.fill(0xa5, 0, 4 * MiB);
    const a = connector.spawn(GUEST, {
      name: 'flat',
      memory: { regions: [{ address: 0, buffer: ram }], allocator: { address: 4 * MiB, length: 4 * MiB } },
      workerData: { mode: 'host', device: 'venet0', kind: 'venet', ip: '192.0.2.1', peer: '192.0.2.2', count: 20 },
    });
    const b = connector.spawn(GUEST, { name: 'own', workerData: { mode: 'own', device: 'vnet0', kind: 'virtio-net', ip: '192.0.2.2', peer: '192.0.2.1', count: 20 } });
    started.push(a, b);
    await Promise.all([next(a.worker), next(b.worker)]);
    expect(connector.introspect().guests.map((g) => [g.name, g.regions, g.memoryBytes])).toEqual([
      ['flat', 1, 8 * MiB],
      ['own', 2, 8 * MiB],
    ]);
    const doneA = next<{ replies: number; memory: string; regions: unknown }>(a.worker);
    const doneB = next<{ replies: number; memory: string; regions: unknown }>(b.worker);
    a.worker.postMessage('start');
    b.worker.postMessage('start');
    const [ra, rb] = await Promise.all([doneA, doneB]);
    expect(ra).toMatchObject({ replies: 20, memory: 'FlatMemory', regions: [{ address: 0, length: 8 * MiB, offset: 0 }] });
    expect(rb).toMatchObject({
      replies: 20,
      memory: 'RegionMemory',
      regions: [
        { address: 0, length: 4 * MiB, offset: 0 },
        { address: 0x4000_0000, length: 4 * MiB, offset: 4 * MiB },
      ],
    });
    // the rings and buffers were in the embedder's buffer, in the window it allowed, and nowhere else
    expect(bytes.subarray(0, 4 * MiB).every((x) => x === 0xa5)).toBe(true);
    expect(bytes.subarray(4 * MiB).some((x) => x !== 0)).toBe(true);
    const venet = bus.device<VenetDevice>('venet0').counters() as Record<string, Record<string, number>>;
    expect(venet.rx!.frames).toBeGreaterThanOrEqual(40);
    expect(venet.tx!.frames).toBeGreaterThanOrEqual(40);
    expect(venet.rx!.drops + venet.tx!.drops).toBe(0);
    const finals = [next<{ responder: Record<string, number> }>(a.worker), next<{ responder: Record<string, number> }>(b.worker)];
    a.worker.postMessage('stop');
    b.worker.postMessage('stop');
    for (const f of await Promise.all(finals)) expect(f.responder).toMatchObject({ echoRequestsOut: 20, echoRepliesIn: 20, echoRequestsIn: 20, echoRepliesOut: 20, txRefused: 0 });
    await Promise.all([a.exited, b.exited]);
    started.length = 0;
  });

  it('two guest-nic guests share one embedder buffer, each seeing its half at guest address 0, and ping each other', async () => {
    const { connector } = newBus();
    const ram = new SharedArrayBuffer(64 * MiB);
    const half = (i: number) => ({ regions: [{ address: 0, buffer: ram, offset: i * 32 * MiB, length: 32 * MiB }] });
    const a = await NicGuestHandle.spawn(connector, { device: 'venet0', kind: 'venet', ip: '192.0.2.1', memory: half(0) });
    const b = await NicGuestHandle.spawn(connector, { device: 'vnet0', kind: 'virtio-net-packed', ip: '192.0.2.2', memory: half(1) });
    try {
      const ra = await a.request<{ rtts: number[] }>({ cmd: 'ping', ip: '192.0.2.2', count: 5, size: 56 });
      const rb = await b.request<{ rtts: number[] }>({ cmd: 'ping', ip: '192.0.2.1', count: 5, size: 1000 });
      expect(ra.rtts.length).toBe(5);
      expect(rb.rtts.length).toBe(5);
      expect(connector.introspect().guests.map((g) => g.memoryBytes)).toEqual([32 * MiB, 32 * MiB]);
      // each guest's rings and buffers are in its own half of the buffer
      const bytes = new Uint8Array(ram);
      expect(bytes.subarray(0, 32 * MiB).some((x) => x !== 0)).toBe(true);
      expect(bytes.subarray(32 * MiB).some((x) => x !== 0)).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a bad region list at spawn is refused with a ConfigError naming the field, and no worker starts', () => {
    const { connector } = newBus();
    const ram = new SharedArrayBuffer(MiB);
    const cases: Array<[unknown, string, RegExp]> = [
      [
        {
          regions: [
            { address: 0x1000, buffer: ram, length: 0x2000 },
            { address: 0x2000, buffer: ram, offset: 0x2000, length: 0x1000 },
          ],
        },
        'memory.regions[1].address',
        /overlaps memory.regions\[0\]/,
      ],
      [{ regions: [{ address: 0x1001, buffer: ram }] }, 'memory.regions[0].address', /multiple of 8/],
      [{ regions: [{ address: 0, buffer: ram, offset: MiB - 8, length: 16 }] }, 'memory.regions[0].length', /runs past the end/],
      [{ regions: [{ address: 0, buffer: new ArrayBuffer(64) }] }, 'memory.regions[0].buffer', /SharedArrayBuffer/],
      [{ regions: Array.from({ length: 17 }, (_, i) => ({ address: i * 64, buffer: ram, offset: i * 64, length: 64 })) }, 'memory.regions', /regionsPerGuest limit \(16\)/],
    ];
    for (const [memory, option, rule] of cases) {
      let error: unknown;
      try {
        connector.spawn(GUEST, { memory: memory as never, workerData: {} });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe(option);
      expect((error as Error).message).toMatch(rule);
    }
    expect(connector.introspect().guests).toEqual([]);
    // the limits are the connector's own
    const tight = new WorkerConnector(newBus().bus, { limits: { memoryPerGuest: 4096 } });
    expect(() => tight.spawn(GUEST, { memory: { regions: [{ address: 0, buffer: ram }] } })).toThrow(/memoryPerGuest limit \(4096\)/);
  });

  it('a bad region list chosen inside the worker is refused there, naming the field', async () => {
    const { connector } = newBus();
    const g = connector.spawn(GUEST, {
      workerData: { mode: 'bad', bad: { regions: [{ address: 0, buffer: new SharedArrayBuffer(4096), length: 4096 }], allocator: { address: 8192, length: 64 } } },
    });
    started.push(g);
    const r = await next<{ error: { name: string; option: string; message: string; vbus: boolean } }>(g.worker);
    expect(r.error).toMatchObject({ name: 'ConfigError', option: 'memory.allocator.address', vbus: true });
    expect(r.error.message).toMatch(/must lie inside one region/);
  });

  it('a guest given memory at spawn cannot swap in regions of its own: its hello is refused and its open says why', async () => {
    const { connector } = newBus();
    const g = connector.spawn(GUEST, { memory: { regions: [{ address: 0, buffer: new SharedArrayBuffer(MiB) }] }, workerData: { mode: 'raw-hello', device: 'venet0' } });
    started.push(g);
    const r = await next<{ reply: { ok: boolean; error: { message: string } } }>(g.worker);
    expect(r.reply.ok).toBe(false);
    expect(r.reply.error.message).toMatch(/its memory regions were refused: .*field regions: must be empty: this guest's memory is the embedder's/);
    expect(g.refused().malformed).toBe(1);
  });
});
