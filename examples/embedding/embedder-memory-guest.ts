// The worker side of examples/embedding/embedder-memory.ts: a venet guest in the memory the
// embedder gave at spawn, answering pings until told to stop.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { GuestResponder, attachPeer } from '@vbus/net';
import { VenetDriver } from '@vbus/venet';

// #region guest
const g = connectWorkerGuest(); // the embedder's regions and allocator window, as given at spawn
const { device, ip } = g.data as { device: string; ip: string };
const nic = await VenetDriver.open(await g.bus.open(device), g.allocator);
const responder = new GuestResponder({ mac: nic.mac, ip });
attachPeer(nic, responder);
// #endregion guest
parentPort!.once('message', async () => {
  responder.close();
  await g.shutdown();
  parentPort!.unref();
});
parentPort!.postMessage('ready');
