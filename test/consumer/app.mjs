// A consumer's program, plain JavaScript on the published packages (test/consumer.test.ts runs it
// with plain node in a project that installed the packed tarballs): one bus, a switch, venet and
// virtio-net guests in this thread, and a venet guest in a worker thread spawned from guest.mjs.
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { attachPeer, GuestResponder, LearningSwitch } from '@vbus/net';
import { VenetDriver, venetModule } from '@vbus/venet';
import { VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';

const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
const bus = vbus.createBus('bus0');
const sw = new LearningSwitch();
bus.createDevice('virtual-ethernet', 'venet0', { backend: sw });
bus.createDevice('virtio-net', 'vnet0', { backend: sw });
bus.createDevice('virtual-ethernet', 'venet1', { backend: sw });

async function inProcessGuest(device, open, ip) {
  const memory = RegionMemory.create(0x10000, 8 << 20);
  const nic = await open(new InProcessConnector(bus, memory).open(device), new GuestAllocator(0x10000, 8 << 20));
  const responder = new GuestResponder({ mac: nic.mac, ip, name: device });
  attachPeer(nic, responder);
  return { nic, responder };
}

const a = await inProcessGuest('venet0', (c, m) => VenetDriver.open(c, m), '192.0.2.1');
const b = await inProcessGuest('vnet0', (c, m) => VirtioNetDriver.open(c, m), '192.0.2.2');

const connector = new WorkerConnector(bus);
const guest = connector.spawn(new URL('./guest.mjs', import.meta.url), { name: 'worker-guest', workerData: { device: 'venet1', ip: '192.0.2.3' } });
await new Promise((resolve, reject) => {
  guest.worker.once('message', resolve);
  guest.worker.once('error', reject);
});

let replies = 0;
for (let seq = 1; seq <= 20; seq++) {
  if ((await a.responder.ping('192.0.2.2', 1000, 1, seq)).seq === seq) replies++;
  if ((await b.responder.ping('192.0.2.3', 1000, 2, seq)).seq === seq) replies++;
  if ((await a.responder.ping('192.0.2.3', 64, 3, seq)).seq === seq) replies++;
}
guest.worker.postMessage('stop');
const code = await guest.exited;
const frames = Object.fromEntries(bus.introspect().devices.map((d) => [d.name, d.counters]));
await a.nic.close();
await b.nic.close();
console.log(JSON.stringify({ replies, workerExit: code, venet0: a.nic.stats(), vnet0: b.nic.stats(), devices: Object.keys(frames) }));
