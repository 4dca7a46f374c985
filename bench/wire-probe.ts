// Wire probe: a guest's venet or virtio-net NIC streams frames through a QEMU stream socket
// backend (unix socket) to a peer in a worker thread that reads them, as QEMU's `-netdev stream`
// would. Prints the frames the peer received per second, and the frames dropped because the
// socket was backed up (the backend's `maxQueuedBytes`):
//   node --conditions=@vbus/source --import tsx bench/wire-probe.ts <venet|virtio-net> [frames] [bytes]
import type { ContainerModule } from 'inversify';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { QemuStreamBackend } from '@vbus/net/node';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { runJob } from './scenarios.js';

const device = (process.argv[2] ?? 'venet') as 'venet' | 'virtio-net';
const frames = Number(process.argv[3] ?? 500_000);
const size = Number(process.argv[4] ?? 64);
const dir = mkdtempSync(join(tmpdir(), 'vbus-wire-'));

// the peer: reads the socket in another thread and counts length-prefixed frames
const peerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer((c) => {
  let bytes = 0;
  c.on('data', (d) => { bytes += d.length; parentPort.postMessage(bytes); });
});
server.listen(workerData.path, () => parentPort.postMessage('listening'));
`;
for (let rep = 0; rep < 3; rep++) {
  const path = join(dir, `peer${rep}.sock`);
  const peer = new Worker(peerSource, { eval: true, workerData: { path } });
  let peerBytes = 0;
  await new Promise<void>((resolve) => peer.once('message', () => resolve()));
  peer.on('message', (b: number) => (peerBytes = b));
  const backend = await QemuStreamBackend.connect({ path });
  const { vbus } = createVbus({ modules: [venetModule as ContainerModule, virtioNetModule as ContainerModule] });
  const bus = vbus.createBus('wire');
  const name = device === 'venet' ? 'venet0' : 'virtio-net0';
  bus.createDevice(device === 'venet' ? 'virtual-ethernet' : 'virtio-net', name, { backend });
  const bytes = 16 << 20;
  const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, bytes)).open(name);
  const t0 = performance.now();
  const r = await runJob({ kind: 'stream', device, deviceName: name, size, frames, batching: true }, conn, new GuestAllocator(0x10000, bytes));
  if (!r.signals) throw new Error(`stream failed: ${r.error}`);
  // wait until the peer has read everything the backend sent
  const sent = () => backend.counters.bytesOut + backend.counters.framesOut * 4;
  while (peerBytes < sent()) await new Promise((resolve) => setTimeout(resolve, 1));
  const seconds = (performance.now() - t0) / 1000;
  const got = backend.counters.framesOut;
  console.log(`${device} ${size} B: peer received ${got} frames, ${(got / seconds / 1e6).toFixed(3)} M/s; dropped (socket backed up) ${backend.counters.dropsNoPeer}`);
  await backend.close();
  await peer.terminate();
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
