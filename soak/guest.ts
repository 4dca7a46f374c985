// A soak guest in a worker thread: one NIC (venet or virtio-net) on the switch. It streams
// frames to the peers the host names and counts into shared memory, so its figures survive its
// own death: [0] sent (counted as the driver takes the frame, taken back if it refuses: never
// behind what the host may see), [1] received addressed to it, [2] received flood copies,
// [3] 1 once the NIC is up, [4] 1 once its connection closed, [5] spoofed frames sent, [6] GSO
// bombs sent (attack frames count in [0] too: the driver accepted them).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CONTROL_GARBAGE } from './control-garbage.js';
import { connectWorkerGuest } from '@vbus/core/node';
import { VENET_CAP_SG, VENET_CAP_TSO4, VENET_FUNC_LINKDOWN, VENET_FUNC_LINKUP, VenetDriver } from '@vbus/venet';
import { GSO_TCPV4, IPPROTO_TCP, SEND_MORE, SEND_NOW, buildIpv4Frame, buildTcpSegment, type GuestNic } from '@vbus/net';
import { VirtioNetDriver } from '@vbus/virtio-compat';

export type SoakGuestCommand =
  | { cmd: 'peers'; macs: number[][] }
  | { cmd: 'run'; on: boolean }
  | { cmd: 'starve'; ms: number }
  | { cmd: 'hostile' }
  | { cmd: 'link-flap'; ms: number }
  /** Send `n` frames from another NIC's MAC (`victim`) to `dst`: port security must drop them. */
  | { cmd: 'spoof'; victim: number[]; dst: number[]; n: number }
  /** venet: send `n` TSO frames with a GSO size of 1 (thousands of segments each, if allowed). */
  | { cmd: 'gso-bomb'; n: number }
  /** Send as fast as the ring takes frames for `ms`. */
  | { cmd: 'flood'; ms: number }
  | { cmd: 'throw' }
  | { cmd: 'exit' }
  | { cmd: 'garbage' }
  | { cmd: 'stop' };

export interface SoakGuestData {
  device: string;
  kind: 'venet' | 'virtio-net';
  counters: SharedArrayBuffer;
  /** Frames per burst, and ms between bursts (0: setImmediate). */
  batch: number;
  pauseMs: number;
  /** Frame size in bytes. */
  size: number;
  /** Kick in a tight loop instead of sending frames (a signal storm). */
  storm?: boolean;
}

const g = connectWorkerGuest({ memoryBytes: 16 << 20 });
const opts = g.data as SoakGuestData;
const c = new Int32Array(opts.counters);
const conn = await g.bus.open(opts.device);
const venet = opts.kind === 'venet' ? await VenetDriver.open(conn, g.allocator, { eventq: 0, sg: VENET_CAP_SG | VENET_CAP_TSO4 }) : undefined;
const nic: GuestNic = venet ?? (await VirtioNetDriver.open(conn, g.allocator, {}));
const mac = nic.mac;
// the storm kicks raw: venet's tx ring notifies on every kick, virtio-net's when the device asked
const kick = venet ? () => venet.tx.kick() : () => nic.flush();
nic.onFrame = (f) => count(f);
function count(f: Uint8Array): void {
  let mine = true;
  for (let i = 0; i < 6; i++) if (f[i] !== mac[i]) mine = false;
  Atomics.add(c, mine ? 1 : 2, 1);
}
Atomics.store(c, 3, 1);
const closed = new Promise<void>((resolve) => {
  const tick = () => (conn.closed ? resolve() : setTimeout(tick, 5));
  tick();
});
void closed.then(() => Atomics.store(c, 4, 1));

let peers: Uint8Array[] = [];
let running = false;
let floodUntil = 0;
let seq = 0;
const frames = new Map<string, Uint8Array>();
function frameTo(dst: Uint8Array): Uint8Array {
  const key = dst.join(',');
  let f = frames.get(key);
  if (!f) {
    f = new Uint8Array(opts.size);
    f.set(dst, 0);
    f.set(mac, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    frames.set(key, f);
  }
  return f;
}
const sleep = (ms: number) => new Promise<void>((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

async function pump(): Promise<void> {
  while (running && !conn.closed) {
    if (opts.storm) {
      for (let i = 0; i < 1000; i++) kick();
    } else if (peers.length > 0) {
      const batch = Date.now() < floodUntil ? 256 : opts.batch;
      for (let i = 0; i < batch; i++) {
        const f = frameTo(peers[seq++ % peers.length]!);
        new DataView(f.buffer).setUint32(14, seq);
        // counted before the send, taken back if refused: a guest killed between the post and
        // the count would otherwise leave the host a frame it never counted (the devices poll
        // their rings, so they take a posted frame without waiting for a kick)
        Atomics.add(c, 0, 1);
        if (!nic.send(f, i + 1 < batch ? SEND_MORE : SEND_NOW)) {
          Atomics.sub(c, 0, 1);
          break;
        }
      }
      nic.flush();
    }
    await sleep(Date.now() < floodUntil ? 0 : opts.pauseMs);
  }
}

/** Send attack frames; each one the driver accepts counts as sent ([0]) and in `slot`. */
function attack(frames: Uint8Array[], slot: number, sendOne: (f: Uint8Array, more: boolean) => boolean = (f, more) => nic.send(f, more ? SEND_MORE : SEND_NOW)): void {
  for (let i = 0; i < frames.length; i++) {
    // counted first, as in pump()
    Atomics.add(c, 0, 1);
    Atomics.add(c, slot, 1);
    if (!sendOne(frames[i]!, i + 1 < frames.length)) {
      Atomics.sub(c, 0, 1);
      Atomics.sub(c, slot, 1);
      break;
    }
  }
  nic.flush();
}

parentPort!.on('message', (m: SoakGuestCommand) => {
  switch (m.cmd) {
    case 'peers':
      peers = m.macs.map((x) => Uint8Array.from(x));
      break;
    case 'run':
      if (m.on && !running) {
        running = true;
        void pump();
      } else if (!m.on) running = false;
      break;
    case 'starve':
      // block this thread: nothing takes frames from the rx ring while it fills
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, m.ms);
      break;
    case 'hostile':
      // a descriptor pointing far outside guest memory
      if (venet) {
        venet.tx.post(2 ** 40, 64, 0);
        venet.tx.kick();
      }
      break;
    case 'spoof': {
      const f = new Uint8Array(opts.size);
      f.set(m.dst, 0);
      f.set(m.victim, 6);
      f[12] = 0x88;
      f[13] = 0xb5;
      attack(
        Array.from({ length: m.n }, () => f),
        5,
      );
      break;
    }
    case 'gso-bomb': {
      if (!venet) break;
      const d = venet;
      const peer = peers[0] ?? mac;
      const seg = buildTcpSegment({ srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: 0x18, data: new Uint8Array(1900) });
      const f = buildIpv4Frame({ srcMac: mac, dstMac: peer, srcIp: Uint8Array.of(10, 0, 0, 1), dstIp: Uint8Array.of(10, 0, 0, 2), protocol: IPPROTO_TCP, payload: seg });
      const offload = { needsCsum: true, csumStart: 34, csumOffset: 16, gsoType: GSO_TCPV4, gsoSize: 1, hdrLen: 54 };
      attack(
        Array.from({ length: m.n }, () => f),
        6,
        (x, more) => d.sendv([x], { offload, more }),
      );
      break;
    }
    case 'garbage': {
      const port = (workerData as { __vbusPort: MessagePort }).__vbusPort;
      for (const m of CONTROL_GARBAGE) port.postMessage(m);
      break;
    }
    case 'flood':
      floodUntil = Date.now() + m.ms;
      break;
    case 'link-flap':
      void (async () => {
        await conn.call(VENET_FUNC_LINKDOWN, new Uint8Array(0));
        await sleep(m.ms);
        await conn.call(VENET_FUNC_LINKUP, new Uint8Array(0));
      })().catch(() => {});
      break;
    case 'throw':
      setImmediate(() => {
        throw new Error('soak guest: injected crash');
      });
      break;
    case 'exit':
      process.exit(3);
      break;
    case 'stop':
      running = false;
      void (async () => {
        await sleep(20);
        parentPort!.postMessage({ cmd: 'stopped' });
      })();
      break;
  }
});
parentPort!.postMessage({ cmd: 'ready', mac: Array.from(mac) });
