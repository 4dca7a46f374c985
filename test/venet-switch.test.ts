import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WorkerConnector } from '@vbus/core/node';
import { VenetDriver, VENET_CAP_SG, type VenetDevice } from '@vbus/venet';
import { GuestResponder, LearningSwitch, attachPeer } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { addVenet, inProcessGuest, newVenetBus, settle } from './fixtures/venet-harness.js';

const GUEST = new URL('./fixtures/venet-guest.ts', import.meta.url);

function nextMessage<T>(w: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('venet over the worker connector', () => {
  for (const [burst, n, sg] of [
    [1, 10, 0],
    [100, 10, 0],
    [100, 10, VENET_CAP_SG],
    [100, 25, 0],
    [100, 1, 0],
  ] as const) {
    it(`${burst} frame(s) guest->backend from a worker (N=${n}${sg ? ', SG' : ''}): 1 kick, tx-completes within ceil(${burst}/${n})`, async () => {
      const bus = newVenetBus();
      const backend = new CaptureBackend();
      addVenet(bus, 'venet0', { backend, txCompleteEvery: n });
      const guest = new WorkerConnector(bus).spawn(GUEST, { workerData: { device: 'venet0', mode: 'burst', burst, sg } });
      const r = await nextMessage<{ kicks: number; txCompletes: number; sent: number }>(guest.worker);
      await guest.exited;
      expect(r.sent).toBe(burst);
      expect(backend.frames.length).toBe(burst);
      expect(r.kicks).toBe(1);
      const tx = bus.device<VenetDevice>('venet0').counters().tx as Record<string, number>;
      expect(tx.kicks).toBe(1);
      expect(tx.interrupts! + tx.suppressed!).toBe(Math.ceil(burst / n));
      // the guest may report before it has handled the last wake still in its doorbell
      expect(r.txCompletes).toBeGreaterThanOrEqual(1);
      expect(r.txCompletes).toBeLessThanOrEqual(tx.interrupts!);
      if (burst === 1) expect(tx.interrupts).toBe(1);
      expect(r.txCompletes).toBeLessThanOrEqual(Math.ceil(burst / n));
    });
  }

  it('two worker guests on one LearningSwitch ping each other through venet; every frame delivered', async () => {
    const bus = newVenetBus();
    const sw = new LearningSwitch({ name: 'sw0' });
    addVenet(bus, 'venet0', { backend: sw, mac: '52:54:00:00:00:0a' });
    addVenet(bus, 'venet1', { backend: sw, mac: '52:54:00:00:00:0b' });
    const connector = new WorkerConnector(bus);
    const a = connector.spawn(GUEST, { workerData: { device: 'venet0', mode: 'ping', ip: '10.0.0.1', peer: '10.0.0.2', count: 20 } });
    const b = connector.spawn(GUEST, { workerData: { device: 'venet1', mode: 'ping', ip: '10.0.0.2', peer: '10.0.0.1', count: 20 } });
    await Promise.all([nextMessage(a.worker), nextMessage(b.worker)]);
    const doneA = nextMessage<{ replies: number }>(a.worker);
    const doneB = nextMessage<{ replies: number }>(b.worker);
    a.worker.postMessage('start');
    b.worker.postMessage('start');
    const [ra, rb] = await Promise.all([doneA, doneB]);
    expect(ra.replies).toBe(20);
    expect(rb.replies).toBe(20);
    const finalA = nextMessage<{ responder: Record<string, number> }>(a.worker);
    const finalB = nextMessage<{ responder: Record<string, number> }>(b.worker);
    a.worker.postMessage('stop');
    b.worker.postMessage('stop');
    const [fa, fb] = await Promise.all([finalA, finalB]);
    await Promise.all([a.exited, b.exited]);
    // each side: 20 requests out, 20 replies in, 20 requests in, 20 replies out
    for (const f of [fa, fb]) expect(f.responder).toMatchObject({ echoRequestsOut: 20, echoRepliesIn: 20, echoRequestsIn: 20, echoRepliesOut: 20, txRefused: 0 });
    for (const name of ['venet0', 'venet1']) {
      const c = bus.device<VenetDevice>(name).counters() as Record<string, Record<string, number>>;
      expect(c.rx!.drops).toBe(0);
      expect(c.tx!.drops).toBe(0);
    }
    const c0 = bus.device<VenetDevice>('venet0').counters() as Record<string, Record<string, number>>;
    const c1 = bus.device<VenetDevice>('venet1').counters() as Record<string, Record<string, number>>;
    // every frame one NIC sent reached the other (ARP broadcasts included: only two ports)
    expect(c0.tx!.frames).toBe(c1.rx!.frames);
    expect(c1.tx!.frames).toBe(c0.rx!.frames);
    expect(c0.tx!.frames).toBeGreaterThanOrEqual(40);
  });
});

describe('venet to a QEMU stream peer over loopback TCP', () => {
  it('an in-process venet guest pings a GuestResponder attached through the QEMU stream backend', async () => {
    let node: typeof import('@vbus/net/node');
    try {
      node = await import('@vbus/net/node');
    } catch {
      return; // the stream backend is not in this tree
    }
    const server = await node.QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    const addr = server.address() as { host?: string; port: number };
    const client = await node.QemuStreamBackend.connect({ host: '127.0.0.1', port: addr.port });
    try {
      const peer = new GuestResponder({ mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x20), ip: '192.0.2.20', name: 'peer' });
      const port = client.attach({ name: 'peer', mac: peer.mac }, peer);
      peer.setTransmit((f) => port.deliver(f));
      const bus = newVenetBus();
      addVenet(bus, 'venet0', { backend: server, mac: '52:54:00:00:00:10' });
      const g = inProcessGuest(bus, 'venet0');
      const d = await VenetDriver.open(g.conn, g.allocator);
      const me = new GuestResponder({ mac: d.mac, ip: '192.0.2.10', name: 'venet-guest' });
      attachPeer(d, me);
      await settle(() => server.connected);
      for (let seq = 1; seq <= 5; seq++) {
        const r = await me.ping('192.0.2.20', 100, undefined, seq);
        expect(r.from).toBe('192.0.2.20');
      }
      expect(me.counters.echoRepliesIn).toBe(5);
      expect(peer.counters.echoRequestsIn).toBe(5);
      expect((bus.device<VenetDevice>('venet0').counters().rx as Record<string, number>).drops).toBe(0);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
