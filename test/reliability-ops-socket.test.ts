// QEMU stream peers that misbehave: two leave in the middle of a frame (mid-body, mid-prefix), others send a length of
// 0 or over QEMU's limit (4096+65536). The QemuStreamBackend counts each, closes that
// connection, takes the next peer, which then pings a venet and a virtio-net NIC through the
// LearningSwitch; a second NIC pair on the switch pings each other throughout, unaffected.
import { createConnection, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { VenetDriver, venetModule, type VenetDevice } from '@vbus/venet';
import { connectBackends, encodeStreamFrame, GuestResponder, LearningSwitch, NetError, QEMU_STREAM_MAX_FRAME, StreamDeframer, attachPeer } from '@vbus/net';
import { QemuStreamBackend } from '@vbus/net/node';
import { virtioNetModule, VirtioNetDriver, type VirtioNetDevice } from '@vbus/virtio-compat';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached in ${ms} ms`);
    await sleep(2);
  }
}

const PEER_MAC = Uint8Array.of(0x52, 0x54, 0, 0x99, 0, 1);

/** A raw TCP peer speaking QEMU's stream framing, with a GuestResponder behind it (a tiny VM). */
async function rawPeer(port: number): Promise<{ sock: Socket; closed: Promise<void>; responder: GuestResponder }> {
  const sock = createConnection(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.on('error', () => {});
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  const responder = new GuestResponder({ mac: PEER_MAC, ip: '192.0.2.99', name: 'qemu-peer', timeoutMs: 2000 }, (f) => sock.write(encodeStreamFrame(f)) || true);
  const deframer = new StreamDeframer((f) => responder.receive(f));
  sock.on('data', (chunk: Buffer) => deframer.push(chunk));
  return { sock, closed, responder };
}

function prefix(len: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(len >>> 0, 0);
  return b;
}

describe('reliability: QEMU stream peers that break the framing', () => {
  it('mid-frame disconnect, length 0, length over the limit: counted, closed, next peer pings venet and virtio-net; the other ports are unaffected', async () => {
    const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
    const bus = vbus.createBus('sock');
    const sw = new LearningSwitch({ name: 'sock-sw' });
    bus.createDevice('virtual-ethernet', 'a-venet', { mac: '52:54:00:80:00:01', backend: sw });
    bus.createDevice('virtio-net', 'b-vnet', { mac: '52:54:00:80:00:02', backend: sw });
    bus.createDevice('virtual-ethernet', 'c-venet', { mac: '52:54:00:80:00:03', backend: sw });
    bus.createDevice('virtio-net', 'd-vnet', { mac: '52:54:00:80:00:04', backend: sw });
    const qemu = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    const cable = connectBackends(sw, qemu, { name: 'uplink' });
    const errors: NetError[] = [];
    const disconnects: Array<{ peer: string; midFrame: boolean }> = [];
    qemu.on('error', (e) => errors.push(e));
    qemu.on('disconnect', (peer, midFrame) => disconnects.push({ peer, midFrame }));
    const port = (qemu.address() as { port: number }).port;

    const guests: Record<string, GuestResponder> = {};
    const open = async (device: string, kind: 'venet' | 'virtio-net', ip: string) => {
      const mem = RegionMemory.create(0x10000, 8 << 20);
      const conn = new InProcessConnector(bus, mem).open(device);
      const alloc = new GuestAllocator(0x10000, 8 << 20);
      if (kind === 'venet') {
        const d = await VenetDriver.open(conn, alloc);
        const r = new GuestResponder({ mac: d.mac, ip, name: device, timeoutMs: 2000 });
        attachPeer(d, r);
        guests[device] = r;
      } else {
        const d = await VirtioNetDriver.open(conn, alloc, { ring: device === 'd-vnet' ? 'packed' : 'split' });
        const r = new GuestResponder({ mac: d.mac, ip, name: device, timeoutMs: 2000 }, (f) => d.send(f));
        d.onFrame = (f) => r.receive(f);
        guests[device] = r;
      }
    };
    await open('a-venet', 'venet', '192.0.2.1');
    await open('b-vnet', 'virtio-net', '192.0.2.2');
    await open('c-venet', 'venet', '192.0.2.3');
    await open('d-vnet', 'virtio-net', '192.0.2.4');

    // the bystander pair pings both ways throughout
    let running = true;
    let pings = 0;
    const failures: string[] = [];
    const bystander = (async () => {
      let seq = 0;
      while (running) {
        seq++;
        for (const [from, to] of [
          ['a-venet', '192.0.2.2'],
          ['b-vnet', '192.0.2.1'],
        ] as const) {
          try {
            await guests[from]!.ping(to, 200, 0x4242, seq & 0xffff);
            pings++;
          } catch (e) {
            failures.push(`${from} -> ${to}: ${String(e)}`);
          }
        }
        await sleep(1);
      }
    })();
    const bystanderMoves = async () => {
      const p = pings;
      await waitFor(() => pings >= p + 10, 5000, 'bystander pings');
    };

    try {
      await bystanderMoves();
      // the bystanders' first ARP broadcasts flooded to the uplink while no peer was connected
      const uplinkDrops0 = sw.ports().find((p) => p.name === 'uplink')!.counters.drops;
      const noPeer0 = qemu.counters.dropsNoPeer;
      expect(uplinkDrops0).toBe(noPeer0);

      // 1. a peer sends one whole frame, then 30 bytes of a 100-byte frame, and leaves
      {
        const p = await rawPeer(port);
        await waitFor(() => qemu.connected, 2000, 'peer 1 accepted');
        const whole = new Uint8Array(60);
        whole.set(Uint8Array.of(0x52, 0x54, 0, 0x80, 0, 3), 0);
        whole.set(PEER_MAC, 6);
        whole[12] = 0x88;
        whole[13] = 0xb5;
        const ignored = guests['c-venet']!.counters.ignored;
        await new Promise<void>((r) => p.sock.write(Buffer.concat([encodeStreamFrame(whole), prefix(100), Buffer.alloc(30, 0xee)]), () => r()));
        await waitFor(() => guests['c-venet']!.counters.ignored > ignored, 2000, 'whole frame delivered');
        p.sock.destroy();
        await waitFor(() => !qemu.connected, 2000, 'peer 1 gone');
        expect(qemu.counters.truncated).toBe(1);
        expect(qemu.counters.framesIn).toBe(1);
        expect(disconnects.at(-1)!.midFrame).toBe(true);
        expect(errors.at(-1)!.reason).toBe('truncated');
        await bystanderMoves();
      }
      // 1b. a peer that leaves after 2 bytes of a length prefix
      {
        const p = await rawPeer(port);
        await waitFor(() => qemu.connected, 2000, 'peer 1b accepted');
        await new Promise<void>((r) => p.sock.write(prefix(64).subarray(0, 2), () => r()));
        await sleep(20);
        p.sock.destroy();
        await waitFor(() => !qemu.connected, 2000, 'peer 1b gone');
        expect(qemu.counters.truncated).toBe(2);
        expect(disconnects.at(-1)!.midFrame).toBe(true);
        await bystanderMoves();
      }

      // 2 and 3. a length of 0, then one over 4096+65536: counted, the backend closes the connection
      for (const [i, bad] of [
        [1, 0],
        [2, QEMU_STREAM_MAX_FRAME + 1],
        [3, 0xffffffff],
      ] as const) {
        const p = await rawPeer(port);
        await waitFor(() => qemu.connected, 2000, 'bad peer accepted');
        p.sock.write(Buffer.concat([prefix(bad), Buffer.alloc(64, 0xab)]));
        await Promise.race([p.closed, sleep(3000).then(() => Promise.reject(new Error(`connection with length ${bad} not closed`)))]);
        await waitFor(() => !qemu.connected, 2000, 'bad peer gone');
        expect(qemu.counters.badLength).toBe(i);
        expect(errors.at(-1)!.reason).toBe('frame-length');
        expect(qemu.counters.framesIn).toBe(1);
        await bystanderMoves();
      }

      // 4. a well-behaved peer: ARP + ping to the venet NIC and the virtio-net NICs, and back
      const good = await rawPeer(port);
      await waitFor(() => qemu.connected, 2000, 'good peer accepted');
      for (let seq = 1; seq <= 5; seq++) {
        expect((await good.responder.ping('192.0.2.3', 100, 7, seq)).from).toBe('192.0.2.3');
        expect((await good.responder.ping('192.0.2.4', 1400, 8, seq)).from).toBe('192.0.2.4');
        expect((await guests['c-venet']!.ping('192.0.2.99', 500, 9, seq)).from).toBe('192.0.2.99');
      }
      expect(good.responder.counters.echoRepliesIn).toBe(10);
      expect(good.responder.counters.arpRepliesIn).toBeGreaterThanOrEqual(2);
      expect(guests['c-venet']!.counters.echoRepliesIn).toBe(5);
      await bystanderMoves();
      running = false;
      await bystander;

      expect(failures).toEqual([]);
      expect(qemu.counters).toMatchObject({ connections: 6, rejected: 0, truncated: 2, badLength: 3, dropsNoNic: 0, dropsNoPeer: noPeer0 });
      // nothing dropped anywhere on the switch: the broken peers never reached it
      const ports = Object.fromEntries(sw.ports().map((p) => [p.name, p.counters]));
      for (const name of ['a-venet', 'b-vnet', 'c-venet', 'd-vnet']) expect(ports[name]!.drops, `${name} port drops`).toBe(0);
      expect(ports.uplink!.drops).toBe(uplinkDrops0);
      for (const name of ['a-venet', 'c-venet']) {
        const c = bus.device<VenetDevice>(name).counters() as Record<string, Record<string, number>>;
        expect(c.rx!.drops + c.tx!.drops, `${name} device drops`).toBe(0);
      }
      for (const name of ['b-vnet', 'd-vnet']) {
        const c = bus.device<VirtioNetDevice>(name).counters();
        expect(c.rx0!.drops + c.tx0!.drops, `${name} device drops`).toBe(0);
      }
      console.log(
        `qemu stream: ${qemu.counters.connections} peers, truncated ${qemu.counters.truncated}, bad length ${qemu.counters.badLength}, ` +
          `frames in ${qemu.counters.framesIn} / out ${qemu.counters.framesOut}; bystander pings ${pings}, failed ${failures.length}; ` +
          `uplink port tx ${ports.uplink!.txFrames} rx ${ports.uplink!.rxFrames}`,
      );
      good.sock.destroy();
      await good.closed;
    } finally {
      running = false;
      await bystander;
      cable.disconnect();
      await qemu.close();
      await sw.close();
    }
  }, 40_000);
});
