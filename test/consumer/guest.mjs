// The worker guest of app.mjs, plain JavaScript: reaches the host's bus with connectWorkerGuest,
// opens its venet NIC and answers pings until the host says stop.
import { parentPort } from 'node:worker_threads';
import { connectWorkerGuest } from '@vbus/core/node';
import { attachPeer, GuestResponder } from '@vbus/net';
import { VenetDriver } from '@vbus/venet';

const g = connectWorkerGuest({ memoryBytes: 8 << 20 });
const { device, ip } = g.data;
const nic = await VenetDriver.open(await g.bus.open(device), g.allocator);
attachPeer(nic, new GuestResponder({ mac: nic.mac, ip, name: device }));
parentPort.once('message', async () => {
  await nic.close();
  await g.shutdown();
});
parentPort.postMessage('ready');
