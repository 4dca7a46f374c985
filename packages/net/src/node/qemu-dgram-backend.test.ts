import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { QemuDgramBackend } from './qemu-dgram-backend.js';
import { FrameQueue, attachResponder, runCleanups, type Cleanup, guestIp, guestMac, peerIp, peerMac } from './test-peers.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  buildArpFrame,
  buildIcmpEchoFrame,
  buildUdpFrame,
  formatIpv4,
  parseArpFrame,
  parseIcmpEchoFrame,
  parseUdpFrame,
  verifyChecksums,
} from '../common/packet/index.js';

const cleanups: Cleanup[] = [];
afterEach(() => runCleanups(cleanups));

async function udpPeer(): Promise<{ sock: Socket; port: number; queue: FrameQueue }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  const queue = new FrameQueue();
  sock.on('message', (m) => queue.push(new Uint8Array(m)));
  return { sock, port: sock.address().port, queue };
}

async function setup() {
  const peer = await udpPeer();
  const backend = await QemuDgramBackend.open({ local: { host: '127.0.0.1', port: 0 }, remote: { host: '127.0.0.1', port: peer.port } });
  cleanups.push(() => backend.close());
  const { guest, port } = attachResponder(backend, 'g');
  cleanups.push(() => guest.close());
  const send = (f: Uint8Array) => peer.sock.send(f, backend.address().port, '127.0.0.1');
  return { peer, backend, guest, port, send };
}

describe('QemuDgramBackend', () => {
  it('exchanges ARP, ping and UDP echo with one raw frame per datagram', async () => {
    const { peer, backend, guest, port, send } = await setup();
    send(buildArpFrame({ op: ARP_OP_REQUEST, senderMac: peerMac, senderIp: peerIp, targetMac: new Uint8Array(6), targetIp: guestIp }));
    const arp = parseArpFrame(await peer.queue.next())!;
    expect(arp.op).toBe(ARP_OP_REPLY);
    expect(formatIpv4(arp.senderIp)).toBe('192.0.2.2');

    send(buildIcmpEchoFrame({ srcMac: peerMac, dstMac: guestMac, srcIp: peerIp, dstIp: guestIp, type: ICMP_ECHO_REQUEST, id: 3, seq: 4, data: new Uint8Array(1472).fill(0x5a) }));
    const echo = await peer.queue.next();
    expect(echo.length).toBe(1514);
    expect(parseIcmpEchoFrame(echo)).toMatchObject({ type: ICMP_ECHO_REPLY, id: 3, seq: 4, dataLength: 1472 });
    expect(verifyChecksums(echo)).toEqual({ ip: true, l4: true });

    send(buildUdpFrame({ srcMac: peerMac, dstMac: guestMac, srcIp: peerIp, dstIp: guestIp, srcPort: 3333, dstPort: 7, data: new TextEncoder().encode('over udp') }));
    const u = await peer.queue.next();
    expect(parseUdpFrame(u)).toMatchObject({ srcPort: 7, dstPort: 3333, dataLength: 8, checksumOk: true });

    // and the guest pings the peer, which answers by hand
    const pinging = guest.ping('192.0.2.1', 10, 1, 1);
    const req = parseIcmpEchoFrame(await peer.queue.next((f) => parseIcmpEchoFrame(f) !== undefined))!;
    send(buildIcmpEchoFrame({ srcMac: peerMac, dstMac: guestMac, srcIp: peerIp, dstIp: guestIp, type: ICMP_ECHO_REPLY, id: req.id, seq: req.seq, data: new Uint8Array(10) }));
    expect(await pinging).toMatchObject({ from: '192.0.2.1', size: 10 });

    expect(backend.counters.framesIn).toBe(4);
    expect(backend.counters.framesOut).toBe(4);
    expect(port.counters).toMatchObject({ txFrames: 4, rxFrames: 4, drops: 0 });
  });

  it('drops runts and datagrams from a foreign address, counting them', async () => {
    const { backend, send } = await setup();
    const stranger = await udpPeer();
    stranger.sock.send(new Uint8Array(60), backend.address().port, '127.0.0.1');
    send(new Uint8Array(5));
    const t0 = Date.now();
    while (backend.counters.foreign + backend.counters.runts < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(backend.counters.foreign).toBe(1);
    expect(backend.counters.runts).toBe(1);
    expect(backend.counters.framesIn).toBe(0);
  });

  it('without a remote, answers whoever sent last; before that, drops and counts', async () => {
    const peer = await udpPeer();
    const backend = await QemuDgramBackend.open();
    cleanups.push(() => backend.close());
    const { port } = attachResponder(backend, 'g');
    expect(port.deliver(new Uint8Array(60))).toBe(false);
    expect(port.counters.drops).toBe(1);
    expect(backend.counters.dropsNoPeer).toBe(1);
    peer.sock.send(
      buildArpFrame({ op: ARP_OP_REQUEST, senderMac: peerMac, senderIp: peerIp, targetMac: new Uint8Array(6), targetIp: guestIp }),
      backend.address().port,
      '127.0.0.1',
    );
    expect(parseArpFrame(await peer.queue.next())!.op).toBe(ARP_OP_REPLY);
    expect(backend.peer).toEqual({ host: '127.0.0.1', port: peer.port });
  });
});
