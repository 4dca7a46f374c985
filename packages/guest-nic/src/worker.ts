// A guest worker with one NIC (venet, or virtio-net when available) and the IPv4 responder.
// The host drives it with messages: ping, stream, stats, stop.
import { parentPort, workerData } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { GuestResponder, SEND_MORE, SEND_NOW, TxRoomWaiter, attachPeer, buildUdpFrame, parseIpv4, type GuestNic } from '@vbus/net';
import { openGuestNic } from './open.js';

/** The commands the host sends a guest-NIC worker: ping a host, stream UDP frames to its echo port, report counters, stop. */
export type NicGuestCommand =
  | { cmd: 'ping'; ip: string; count: number; size: number }
  | { cmd: 'stream'; ip: string; frames: number; size: number; batch: number; window?: number }
  | { cmd: 'stats' }
  | { cmd: 'stop' };

// memory the host gave at spawn is used as given; otherwise 32 MiB of the guest's own
const g = connectWorkerGuest((workerData.data as { hostMemory?: boolean }).hostMemory ? {} : { memoryBytes: 32 << 20 });
const opts = g.data as { device: string; kind: 'venet' | 'virtio-net'; ip: string };
const conn = await g.bus.open(opts.device);
const nic: GuestNic = await openGuestNic(opts.kind, conn, g.allocator);
const responder = new GuestResponder({ mac: nic.mac, ip: opts.ip, name: opts.device });
attachPeer(nic, responder);
let received = 0;
const toResponder = nic.onFrame;
nic.onFrame = (f) => {
  received++;
  toResponder(f);
};
const port = parentPort!;
const yieldToLoop = () => new Promise((r) => setImmediate(r));
// a sender refused for a full ring polls a few turns, then sleeps until the driver frees tx
// buffers (with several guests on few cores, polling guests starve the host thread)
const txRoom = new TxRoomWaiter(nic);

port.on('message', async (m: NicGuestCommand) => {
  try {
    if (m.cmd === 'ping') {
      const rtts: number[] = [];
      for (let seq = 1; seq <= m.count; seq++) rtts.push((await responder.ping(m.ip, m.size, undefined, seq)).rttMs);
      port.postMessage({ cmd: 'ping', rtts });
    } else if (m.cmd === 'stream') {
      // With a window, the frames go to the peer's UDP echo port and at most `window` may be
      // unanswered: the echoes clock the sender, as TCP's window would, so no ring overflows.
      // Without one, they go to the discard port as fast as the NIC takes them.
      const window = m.window ?? 0;
      const dstMac = await responder.resolve(m.ip);
      const payload = new Uint8Array(Math.max(0, m.size - 42));
      const frame = buildUdpFrame({ srcMac: nic.mac, dstMac, srcIp: parseIpv4(opts.ip), dstIp: parseIpv4(m.ip), srcPort: 40000, dstPort: window > 0 ? 7 : 9, data: payload });
      const start = performance.now();
      const echoedBase = received;
      let sent = 0;
      // hysteresis: once `window` frames are unanswered, wait until half have come back, then
      // send a batch again; refilling one slot per echo would kick the (idle) device per frame
      let refill = true;
      while (sent < m.frames) {
        const inFlight = sent - (received - echoedBase);
        if (window > 0) {
          if (inFlight >= window) refill = false;
          else if (inFlight <= window >> 1) refill = true;
        }
        const last = sent + 1 === m.frames || (sent + 1) % m.batch === 0 || (window > 0 && inFlight + 1 >= window);
        if (refill && nic.send(frame, last ? SEND_NOW : SEND_MORE)) {
          sent++;
          txRoom.sent();
        } else {
          nic.flush();
          // refused with refill on: the ring is full (the queue stopped); else waiting for echoes
          await (refill ? txRoom.wait() : yieldToLoop());
          continue;
        }
        if (last) await yieldToLoop();
      }
      if (window > 0) {
        const deadline = performance.now() + 5000;
        while (received - echoedBase < sent && performance.now() < deadline) await yieldToLoop();
      }
      port.postMessage({ cmd: 'stream', sent, echoed: received - echoedBase, ms: performance.now() - start });
    } else if (m.cmd === 'stats') {
      port.postMessage({ cmd: 'stats', received, nic: nic.stats() });
    } else if (m.cmd === 'stop') {
      responder.close?.();
      await g.shutdown();
      port.close();
    }
  } catch (e) {
    port.postMessage({ cmd: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
port.postMessage({ cmd: 'ready', mac: Array.from(nic.mac) });
