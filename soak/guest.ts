// A soak guest in a worker thread: one NIC (venet or virtio-net) on the switch. It streams
// frames to the peers the host names and counts into shared memory, so its figures survive its
// own death: [0] sent (driver accepted), [1] received addressed to it, [2] received flood copies,
// [3] 1 once the NIC is up, [4] 1 once its connection closed.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { VENET_FUNC_LINKDOWN, VENET_FUNC_LINKUP, VenetDriver } from '@vbus/venet';
import { VirtioNetDriver } from '@vbus/virtio-compat';
import { SEND_MORE, SEND_NOW, type GuestNic } from '@vbus/net';

export type SoakGuestCommand =
  | { cmd: 'peers'; macs: number[][] }
  | { cmd: 'run'; on: boolean }
  | { cmd: 'starve'; ms: number }
  | { cmd: 'hostile' }
  | { cmd: 'link-flap'; ms: number }
  | { cmd: 'throw' }
  | { cmd: 'exit' }
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
const venet = opts.kind === 'venet' ? await VenetDriver.open(conn, g.allocator, { eventq: 0 }) : undefined;
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
      for (let i = 0; i < opts.batch; i++) {
        const f = frameTo(peers[seq++ % peers.length]!);
        new DataView(f.buffer).setUint32(14, seq);
        if (nic.send(f, i + 1 < opts.batch ? SEND_MORE : SEND_NOW)) Atomics.add(c, 0, 1);
        else break;
      }
      nic.flush();
    }
    await sleep(opts.pauseMs);
  }
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
