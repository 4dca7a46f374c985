import { describe, expect, it } from 'vitest';
import { LearningSwitch, LoopbackBackend, SEND_MORE, SEND_NOW } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { GuestResponder } from '@vbus/net';
import {
  featureMask,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  type VirtioNetDevice,
  type VirtioNetDriver,
} from '@vbus/virtio-compat';
import { frameTo, newVirtioBus, openDriver, settle, until } from './fixtures/virtio-harness.js';

async function loopbackDriver(options: Parameters<typeof openDriver>[2] = {}) {
  const bus = newVirtioBus();
  bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend: new LoopbackBackend() });
  const d = await openDriver(bus, 'vnet0', options);
  await settle();
  return { bus, d };
}

function signals(d: VirtioNetDriver) {
  return { kicks: d.counters.kicks, interrupts: d.counters.interrupts };
}

describe('virtio-net signal economy (in-process, loopback backend)', () => {
  for (const ring of ['split', 'packed'] as const) {
    it(`${ring}: one frame costs 1 kick and 1 interrupt`, async () => {
      const { d } = await loopbackDriver({ ring });
      let got = 0;
      d.onFrame = () => got++;
      const before = signals(d);
      expect(d.send(frameTo(d.mac, d.mac, 1))).toBe(true);
      await until(() => got === 1);
      await settle();
      const after = signals(d);
      expect({ kicks: after.kicks - before.kicks, interrupts: after.interrupts - before.interrupts }).toEqual({ kicks: 1, interrupts: 1 });
    });

    it(`${ring}: a burst of 100 with more costs 1 kick`, async () => {
      const { d } = await loopbackDriver({ ring });
      let got = 0;
      d.onFrame = () => got++;
      const before = signals(d);
      for (let i = 0; i < 100; i++) expect(d.send(frameTo(d.mac, d.mac, i), i < 99 ? SEND_MORE : SEND_NOW)).toBe(true);
      await until(() => got === 100);
      await settle();
      const after = signals(d);
      expect(after.kicks - before.kicks).toBe(1);
      expect(after.interrupts - before.interrupts).toBe(1);
    });
  }

  it('frames sent from inside the rx poll (replies) are kicked once per poll, not once each', async () => {
    // without EVENT_IDX, so that only the driver's batching (not avail_event) keeps kicks down
    const { d } = await loopbackDriver({ ring: 'split', pollWeight: 64, features: ~featureMask(VIRTIO_F_EVENT_IDX) & ((1n << 64n) - 1n) });
    expect(d.features & featureMask(VIRTIO_F_EVENT_IDX)).toBe(0n);
    // over the loopback, each frame comes back once; reply to the first 100 from inside onFrame
    let got = 0;
    let replies = 0;
    d.onFrame = (f) => {
      got++;
      const n = new DataView(f.buffer, f.byteOffset).getUint32(14, true);
      if (n < 100) {
        d.send(frameTo(d.mac, d.mac, n + 1000));
        replies++;
      }
    };
    for (let i = 0; i < 100; i++) d.send(frameTo(d.mac, d.mac, i), i < 99 ? SEND_MORE : SEND_NOW);
    await until(() => got === 200);
    await settle();
    expect(replies).toBe(100);
    const attempts = d.counters.kicks + d.counters.kicksSuppressed;
    // 1 kick for the burst, then at most one per poll of 64 replies (2 polls)
    expect(attempts).toBeLessThanOrEqual(1 + 2 + 1);
  });

  it('steady stream with EVENT_IDX: kicks and interrupts per frame ≤ 0.01', async () => {
    const results: Record<string, { frames: number; kicks: number; interrupts: number }> = {};
    for (const ring of ['split', 'packed'] as const) {
      const { d } = await loopbackDriver({ ring });
      expect(d.features & featureMask(VIRTIO_F_EVENT_IDX)).not.toBe(0n);
      let got = 0;
      let inOrder = true;
      d.onFrame = (f) => {
        if (new DataView(f.buffer, f.byteOffset).getUint32(14, true) !== got) inOrder = false;
        got++;
      };
      const N = 20_000;
      const before = signals(d);
      for (let i = 0; i < N;) {
        if (d.send(frameTo(d.mac, d.mac, i))) i++;
        else await new Promise<void>((r) => setImmediate(r));
      }
      await until(() => got === N);
      await settle();
      const after = signals(d);
      results[ring] = { frames: N, kicks: after.kicks - before.kicks, interrupts: after.interrupts - before.interrupts };
      expect(inOrder).toBe(true);
      expect(results[ring]!.kicks / N).toBeLessThanOrEqual(0.01);
      expect(results[ring]!.interrupts / N).toBeLessThanOrEqual(0.01);
    }
    console.log('steady stream signal counts', JSON.stringify(results));
  });
});

describe('virtio-net tx bursts to the backend', () => {
  for (const ring of ['split', 'packed'] as const) {
    it(`${ring}: a drain reaches the backend as one burst: every frame with more, then one flush`, async () => {
      const bus = newVirtioBus();
      const backend = new CaptureBackend();
      bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend });
      const d = await openDriver(bus, 'vnet0', { ring });
      await settle();
      for (let i = 0; i < 100; i++) d.send(frameTo(d.mac, d.mac, i), i < 99 ? SEND_MORE : SEND_NOW);
      await until(() => backend.frames.length === 100);
      await settle();
      expect(backend.frames.every((f) => f.more)).toBe(true);
      expect(backend.flushes).toBe(1);
      expect(backend.burstOpen).toBe(false);
    });
  }
});

describe('virtio-net rx bursts from the backend', () => {
  it('frames delivered with more are published and interrupt the driver once, when the burst ends', async () => {
    const bus = newVirtioBus();
    const backend = new CaptureBackend();
    bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend });
    const d = await openDriver(bus, 'vnet0');
    await settle();
    let got = 0;
    d.onFrame = () => got++;
    const irq0 = d.counters.interrupts;
    for (let i = 0; i < 50; i++) expect(backend.inject(frameTo(d.mac, d.mac, i), true)).toBe(true);
    await settle();
    expect(got).toBe(0);
    backend.endInjectBurst();
    await until(() => got === 50);
    expect(d.counters.interrupts - irq0).toBe(1);
  });
});

describe('virtio-net receive with MRG_RXBUF', () => {
  it('spreads a frame over several small rx buffers (num_buffers) and the driver reassembles it', async () => {
    const { d, bus } = await loopbackDriver({ rxBufferSize: 256, txBufferSize: 2048 });
    expect(d.features & featureMask(VIRTIO_NET_F_MRG_RXBUF)).not.toBe(0n);
    const frames: Uint8Array[] = [];
    d.onFrame = (f) => frames.push(f.slice());
    const big = frameTo(d.mac, d.mac, 7, 1000);
    for (let i = 60; i < 1000; i++) big[i] = i & 0xff;
    d.send(big);
    await until(() => frames.length === 1);
    expect(frames[0]).toEqual(big);
    expect(bus.device<VirtioNetDevice>('vnet0').counters().rx0!.frames).toBe(1);
  });

  it('without MRG_RXBUF a frame larger than a buffer is a counted drop', async () => {
    const { d, bus } = await loopbackDriver({ rxBufferSize: 256, features: ~featureMask(VIRTIO_NET_F_MRG_RXBUF) });
    let got = 0;
    d.onFrame = () => got++;
    d.send(frameTo(d.mac, d.mac, 1, 1000));
    d.send(frameTo(d.mac, d.mac, 2, 100));
    await until(() => got === 1);
    await settle();
    expect(got).toBe(1);
    expect(bus.device<VirtioNetDevice>('vnet0').counters().rx0!.drops).toBe(1);
    expect(d.counters.rxErrors).toBe(1); // the buffer came back empty and was reposted
  });
});

describe('virtio-net with VIRTIO_F_IN_ORDER', () => {
  const cases = [
    { name: 'split, IN_ORDER negotiated (the default)', ring: 'split' as const, mask: 0n, inOrder: true },
    { name: 'split without IN_ORDER', ring: 'split' as const, mask: featureMask(VIRTIO_F_IN_ORDER), inOrder: false },
    { name: 'packed (this driver does not negotiate IN_ORDER with it)', ring: 'packed' as const, mask: 0n, inOrder: false },
  ];
  for (const c of cases) {
    it(`${c.name}: 600 frames of varying length over small rx buffers (MRG_RXBUF) arrive intact and in order`, async () => {
      const { d, bus } = await loopbackDriver({ ring: c.ring, queueSize: 64, rxBufferSize: 256, features: ~c.mask & ((1n << 64n) - 1n) });
      expect((d.features & featureMask(VIRTIO_F_IN_ORDER)) !== 0n).toBe(c.inOrder);
      const got: Uint8Array[] = [];
      d.onFrame = (f) => got.push(f.slice());
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 600; i++) {
        const f = frameTo(d.mac, d.mac, i, 60 + ((i * 37) % 700));
        for (let k = 16; k < f.length; k++) f[k] = (i + k) & 0xff;
        sent.push(f);
      }
      // in bursts that wrap the 64-entry rings many times, with partial rx buffers in between
      let next = 0;
      while (next < sent.length) {
        const end = Math.min(sent.length, next + 20);
        for (; next < end; next++) expect(d.send(sent[next]!, next < end - 1 ? SEND_MORE : SEND_NOW)).toBe(true);
        await until(() => got.length === next);
      }
      expect(got).toEqual(sent);
      const counters = bus.device<VirtioNetDevice>('vnet0').counters();
      expect(counters.tx0!.frames).toBe(600);
      expect(counters.rx0!.frames).toBe(600);
      expect(counters.config!.needsReset).toBe(0);
    });
  }
});

async function pingOverSwitch(ring: 'split' | 'packed') {
  const sw = new LearningSwitch({ name: 'sw0' });
  const bus = newVirtioBus();
  bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:0a', backend: sw });
  const d = await openDriver(bus, 'vnet0', { ring });
  const guest = new GuestResponder({ mac: d.mac, ip: '192.0.2.10', timeoutMs: 2000 }, (f) => d.send(f));
  d.onFrame = (f) => guest.receive(f);
  // the host side: a responder attached straight to the switch
  const host = new GuestResponder({ mac: Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]), ip: '192.0.2.1', timeoutMs: 2000, name: 'host' });
  const port = sw.attach({ name: 'host', mac: host.mac }, host);
  host.setTransmit((f) => port.deliver(f));
  return { bus, sw, d, guest, host };
}

describe('virtio-net over a LearningSwitch with GuestResponders', () => {
  for (const ring of ['split', 'packed'] as const) {
    it(`${ring}: guest and host ping each other`, async () => {
      const { d, guest, host } = await pingOverSwitch(ring);
      const r1 = await guest.ping('192.0.2.1', 1000);
      expect(r1.from).toBe('192.0.2.1');
      const r2 = await host.ping('192.0.2.10', 56, undefined, 2);
      expect(r2.from).toBe('192.0.2.10');
      expect(guest.counters.echoRepliesOut).toBe(1);
      expect(d.counters.received).toBeGreaterThanOrEqual(2);
      guest.close();
      host.close();
    });
  }
});

describe('virtio-net: hostile guest', () => {
  it('a ring error sets DEVICE_NEEDS_RESET naming queue, index and rule; other devices keep moving frames', async () => {
    const sw = new LearningSwitch({ name: 'sw0' });
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'bad0', { mac: '52:54:00:00:00:0b', backend: sw });
    bus.createDevice('virtio-net', 'good0', { mac: '52:54:00:00:00:0c', backend: sw });
    bus.createDevice('virtio-net', 'good1', { mac: '52:54:00:00:00:0d', backend: sw });
    const bad = await openDriver(bus, 'bad0');
    const g0 = await openDriver(bus, 'good0');
    const g1 = await openDriver(bus, 'good1');
    let needsReset = false;
    bad.onConfigChange = (s) => (needsReset = s.needsReset);

    // corrupt the tx ring: the next available head is out of range
    const txq = (bad as unknown as { tx: Array<{ vq: { addresses: { availRing: number } } }> }).tx[0]!.vq;
    const avail = txq.addresses.availRing;
    const mem = bad.guest.memory;
    bad.send(frameTo(g0.mac, bad.mac, 0), SEND_MORE);
    new DataView(mem.view(avail + 4, 2).buffer, mem.view(avail + 4, 2).byteOffset).setUint16(0, 0x7777, true); // ring[0]
    bad.flush();
    await until(() => needsReset);
    const status = await bad.transport.getStatus();
    expect(status & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET).toBeTruthy();
    const err = await bad.transport.error();
    expect(err).toMatch(/bad0\.tx0/);
    expect(err).toMatch(/index 0/);
    expect(err).toMatch(/not below the queue size/);
    expect(bus.device<VirtioNetDevice>('bad0').errors()[0]).toBe(err);
    expect(bus.status('bad0').state).toBe('ready'); // only the connection stopped, not the device

    // the others still move frames through the same switch
    let got = 0;
    g1.onFrame = () => got++;
    for (let i = 0; i < 10; i++) g0.send(frameTo(g1.mac, g0.mac, i), i < 9 ? SEND_MORE : SEND_NOW);
    await until(() => got === 10);

    // writing status 0 (the driver's recover) brings the connection back on the same signals
    await bad.recover();
    expect(await bad.transport.getStatus()).toBe(0x0f);
    expect(await bad.transport.error()).toBe('');
    let back = 0;
    g0.onFrame = () => back++;
    bad.send(frameTo(g0.mac, bad.mac, 1));
    await until(() => back === 1);
  });

  it('packed ring: a descriptor outside guest memory sets DEVICE_NEEDS_RESET; the device stays up', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'bad0', { backend: new LoopbackBackend() });
    const bad = await openDriver(bus, 'bad0', { ring: 'packed' });
    let needsReset = false;
    bad.onConfigChange = (s) => (needsReset = s.needsReset);
    const txq = (bad as unknown as { tx: Array<{ vq: { addresses: { descRing: number } } }> }).tx[0]!.vq;
    bad.send(frameTo(bad.mac, bad.mac, 0), SEND_MORE);
    const desc = bad.guest.memory.view(txq.addresses.descRing, 16);
    new DataView(desc.buffer, desc.byteOffset).setUint32(4, 0x4000_0000, true); // addr high word: far outside
    bad.flush();
    await until(() => needsReset);
    const err = await bad.transport.error();
    expect(err).toMatch(/bad0\.tx0 index 0: .*outside guest memory/);
    expect(bus.status('bad0').state).toBe('ready');
    await bad.recover();
    let got = 0;
    bad.onFrame = () => got++;
    bad.send(frameTo(bad.mac, bad.mac, 1));
    await until(() => got === 1);
  });
});

describe('virtio-net over the worker connector', () => {
  for (const ring of ['split', 'packed'] as const) {
    it(`${ring}: a guest in a worker thread and a host responder ping each other over a LearningSwitch`, async () => {
      const { WorkerConnector } = await import('@vbus/core/node');
      const sw = new LearningSwitch({ name: 'sw0' });
      const bus = newVirtioBus();
      bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:01:0a', backend: sw });
      const host = new GuestResponder({ mac: Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]), ip: '192.0.2.1', timeoutMs: 5000, name: 'host' });
      const port = sw.attach({ name: 'host', mac: host.mac }, host);
      host.setTransmit((f) => port.deliver(f));
      const guest = new WorkerConnector(bus).spawn(new URL('./fixtures/virtio-guest.ts', import.meta.url), {
        workerData: { device: 'vnet0', ring, ip: '192.0.2.10', peer: '192.0.2.1', pings: 5 },
      });
      const next = () =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          guest.worker.once('message', resolve);
          guest.worker.once('error', reject);
        });
      const first = await next();
      expect(first.pinged).toBe(5);
      const reply = await host.ping('192.0.2.10', 200);
      expect(reply.from).toBe('192.0.2.10');
      guest.worker.postMessage('stop');
      const last = await next();
      expect(last.echoRepliesOut).toBe(1);
      expect(host.counters.echoRepliesOut).toBe(5);
      await guest.exited;
      host.close();
    });
  }
});

describe('virtio-net multiqueue and offload metadata', () => {
  it('MQ: VQ_PAIRS_SET 2, flows spread over both rx queues, tx on pair 1 works', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend: new LoopbackBackend(), queuePairs: 2 });
    const d = await openDriver(bus, 'vnet0', { queuePairs: 2 });
    expect(d.maxPairs).toBe(2);
    let got = 0;
    d.onFrame = () => got++;
    for (let i = 0; i < 64; i++) {
      const f = frameTo(d.mac, d.mac, i, 60);
      f[12] = 0x08;
      f[13] = 0x00; // IPv4: the flow hash covers the addresses at 26..33
      f[29] = i;
      d.send(f, i < 63 ? SEND_MORE : SEND_NOW, i % 2);
    }
    d.flush(0);
    d.flush(1);
    await until(() => got === 64);
    const c = bus.device<VirtioNetDevice>('vnet0').counters();
    expect(c.rx0!.frames).toBeGreaterThan(0);
    expect(c.rx1!.frames).toBeGreaterThan(0);
    expect(c.rx0!.frames + c.rx1!.frames).toBe(64);
    expect(c.tx0!.frames + c.tx1!.frames).toBe(64);
    expect(c.tx1!.frames).toBe(32);
  });

  it('without MQ negotiated the control queue is queue 2 even on a device with 2 pairs (virtio 1.2 §5.1.2)', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend: new LoopbackBackend(), queuePairs: 2 });
    const d = await openDriver(bus, 'vnet0', { features: ~featureMask(VIRTIO_NET_F_MQ) & ((1n << 64n) - 1n) });
    expect(d.features & featureMask(VIRTIO_NET_F_MQ)).toBe(0n);
    expect(d.maxPairs).toBe(1);
    // the driver put its control queue at index 2; the device must answer there
    const acked = await Promise.race([d.setRxMode({ promisc: false }), settle(50).then(() => 'no answer' as const)]);
    expect(acked).toBe(true);
    const conn = bus.device<VirtioNetDevice>('vnet0');
    expect(conn.counters().rx1!.frames).toBe(1); // queue 2 (named rx1 for the MQ layout) answered one command
    // and frames still flow on pair 0
    let got = 0;
    d.onFrame = () => got++;
    d.send(frameTo(d.mac, d.mac, 1));
    await until(() => got === 1);
  });

  it('CSUM/GUEST_CSUM: NEEDS_CSUM travels tx header -> backend -> rx header', async () => {
    const { d } = await loopbackDriver();
    const seen: Array<{ needsCsum: boolean; csumStart: number; csumOffset: number } | undefined> = [];
    d.onFrame = (_f, o) => seen.push(o && { needsCsum: o.needsCsum, csumStart: o.csumStart, csumOffset: o.csumOffset });
    d.send(frameTo(d.mac, d.mac, 1), { offload: { needsCsum: true, csumStart: 34, csumOffset: 6, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false } });
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ needsCsum: true, csumStart: 34, csumOffset: 6 });
  });

  it('the header of a tx buffer is rewritten whenever its frame needs another: plain and NEEDS_CSUM frames mixed over three laps of the ring arrive as sent', async () => {
    // the tx path leaves a plain frame's all-zero header unwritten when the buffer already holds one
    const { d } = await loopbackDriver();
    const seen: boolean[] = [];
    d.onFrame = (_f, o) => seen.push(o?.needsCsum === true);
    const sent: boolean[] = [];
    let x = 0x9e3779b9;
    for (let i = 0; i < 3 * 256; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const csum = (x & 0x10000) !== 0;
      sent.push(csum);
      const offload = csum ? { offload: { needsCsum: true, csumStart: 34, csumOffset: 6, gsoType: 0, gsoSize: 0, hdrLen: 0, ecn: false } } : {};
      expect(d.send(frameTo(d.mac, d.mac, i), offload)).toBe(true);
      await until(() => seen.length === i + 1);
    }
    expect(seen).toEqual(sent);
    expect(sent.filter(Boolean).length).toBeGreaterThan(300);
  });

  it('without EVENT_IDX the flags still keep a burst to 1 kick and 1 interrupt', async () => {
    const { d } = await loopbackDriver({ features: ~featureMask(VIRTIO_F_EVENT_IDX) });
    let got = 0;
    d.onFrame = () => got++;
    const before = signals(d);
    for (let i = 0; i < 100; i++) d.send(frameTo(d.mac, d.mac, i), i < 99 ? SEND_MORE : SEND_NOW);
    await until(() => got === 100);
    await settle();
    expect(signals(d).kicks - before.kicks).toBe(1);
    expect(signals(d).interrupts - before.interrupts).toBe(1);
  });
});
