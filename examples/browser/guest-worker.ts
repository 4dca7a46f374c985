// A guest in a Web Worker: one NIC (venet or virtio-net) on the page's bus, with the IPv4 responder
// (ping, UDP echo). The page drives it with messages: ping, stream, stats.
import { connectWebWorkerGuest } from '@vbus/core/browser';
import { attachPeer, buildUdpFrame, GuestResponder, parseIpv4, SEND_MORE, SEND_NOW, type GuestNic, type GuestNicStats } from '@vbus/net';
import { VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';

/** What the page tells a guest worker to do. */
export type GuestCommand =
  { cmd: 'ping'; ip: string; count: number; size: number } | { cmd: 'stream'; ip: string; frames: number; size: number; window: number } | { cmd: 'stats' };

/** What a guest worker answers. */
export type GuestReply =
  | { cmd: 'ready' }
  | { cmd: 'ping'; rtts: number[] }
  | { cmd: 'stream'; sent: number; echoed: number; ms: number }
  | { cmd: 'stats'; nic: GuestNicStats; echoed: number }
  | { cmd: 'error'; message: string };

/** The guest's configuration, given by the page at spawn. */
export interface GuestConfig {
  device: string;
  kind: 'venet' | 'virtio-net';
  ip: string;
}

// #region guest
const g = await connectWebWorkerGuest({ memoryBytes: 16 << 20 });
const config = g.data as GuestConfig;
const conn = await g.bus.open(config.device);
const nic: GuestNic = config.kind === 'venet' ? await VenetDriver.open(conn, g.allocator) : await VirtioNetDriver.open(conn, g.allocator);
const responder = new GuestResponder({ mac: nic.mac, ip: config.ip, name: config.device });
attachPeer(nic, responder);
// #endregion guest
// echoes of our own stream come back to the stream's source port
const STREAM_PORT = 40000;
let echoed = 0;
responder.on('udp', (m) => {
  if (m.dstPort === STREAM_PORT) echoed++;
});

const scope = globalThis as unknown as { postMessage(m: GuestReply): void; addEventListener(t: 'message', f: (e: { data: GuestCommand }) => void): void };
// yield to the worker's event loop (doorbell wakes, echoes) without setTimeout's 4 ms clamp
const yieldChannel = new MessageChannel();
const yielders: Array<() => void> = [];
(yieldChannel.port1 as unknown as { onmessage: () => void }).onmessage = () => yielders.shift()?.();
const nextTask = () => new Promise<void>((r) => (yielders.push(r), yieldChannel.port2.postMessage(0)));

async function stream(m: Extract<GuestCommand, { cmd: 'stream' }>): Promise<GuestReply> {
  // At most `window` frames unanswered: the echoes clock the sender (as TCP's window would), so
  // no ring overflows; a small window is ping-pong (a signal per frame), a large one batches.
  const dstMac = await responder.resolve(m.ip);
  const frame = buildUdpFrame({
    srcMac: nic.mac,
    dstMac,
    srcIp: parseIpv4(config.ip),
    dstIp: parseIpv4(m.ip),
    srcPort: STREAM_PORT,
    dstPort: 7,
    data: new Uint8Array(Math.max(0, m.size - 42)),
  });
  const start = performance.now();
  const base = echoed;
  let sent = 0;
  let refill = true;
  while (sent < m.frames) {
    const inFlight = sent - (echoed - base);
    // hysteresis: refill only when half the window came back, so each refill is one batch and one kick
    if (inFlight >= m.window) refill = false;
    else if (inFlight <= m.window >> 1) refill = true;
    const last = sent + 1 === m.frames || inFlight + 1 >= m.window;
    if (refill && nic.send(frame, last ? SEND_NOW : SEND_MORE)) {
      sent++;
      if (last) await nextTask();
    } else {
      nic.flush();
      await nextTask();
    }
  }
  const deadline = performance.now() + 5000;
  while (echoed - base < sent && performance.now() < deadline) await nextTask();
  return { cmd: 'stream', sent, echoed: echoed - base, ms: performance.now() - start };
}

scope.addEventListener('message', (e) => {
  const m = e.data;
  if (typeof m !== 'object' || m === null || !('cmd' in m)) return;
  void (async (): Promise<GuestReply> => {
    if (m.cmd === 'ping') {
      const rtts: number[] = [];
      for (let seq = 1; seq <= m.count; seq++) rtts.push((await responder.ping(m.ip, m.size, undefined, seq)).rttMs);
      return { cmd: 'ping', rtts };
    }
    if (m.cmd === 'stream') return stream(m);
    return { cmd: 'stats', nic: nic.stats(), echoed };
  })()
    .catch((err: unknown): GuestReply => ({ cmd: 'error', message: err instanceof Error ? err.message : String(err) }))
    .then((reply) => scope.postMessage(reply));
});
scope.postMessage({ cmd: 'ready' });
