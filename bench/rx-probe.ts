// Receive-stream probe (docs/benchmarks.md, round 4): the host pushes 64-byte frames into one
// NIC as fast as the guest's rx ring takes them; a worker guest counts what its driver hands up.
//   node --conditions=@vbus/source --import tsx bench/rx-probe.ts <venet|virtio-net> [frames] [rxPollTurns]
// prints the guest's frames/s, rx interrupts per frame and the frames the device had to drop.
import type { ContainerModule } from 'inversify';
import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { CaptureBackend } from '@vbus/net/testing';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';

const kind = (process.argv[2] ?? 'venet') as 'venet' | 'virtio-net';
const frames = Number(process.argv[3] ?? 2_000_000);
const rxPollTurns = Number(process.argv[4] ?? 0);
const perFrame = process.env.PER_FRAME === '1';

const { vbus } = createVbus({ modules: [venetModule as ContainerModule, virtioNetModule as ContainerModule] });
const bus = vbus.createBus('rx');
// the test backend's inject() pushes a frame toward the NIC (nothing is sent the other way here)
const source = new CaptureBackend();
bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic0', { backend: source });
const frame = new Uint8Array(64).fill(0xff, 0, 6);
for (let rep = 0; rep < 3; rep++) {
  const connector = new WorkerConnector(bus);
  const guest = connector.spawn(new URL('./rx-guest.ts', import.meta.url), { name: `rx${rep}`, workerData: { kind, frames, rxPollTurns } });
  let result: { seconds: number; received: number; interrupts: number } | undefined;
  let ready = false;
  guest.worker.on('message', (m: { t: string; result?: typeof result }) => {
    if (m.t === 'ready') ready = true;
    if (m.t === 'result') result = m.result;
  });
  while (!ready) await new Promise((r) => setImmediate(r));
  let refused = 0;
  while (result === undefined) {
    // up to 256 frames per turn, as one burst (more, then the flush: one rx notification); a
    // refusal (no rx buffer) ends the turn. PER_FRAME=1: each frame on its own, as before round 8
    for (let i = 0; i < 256; i++)
      if (!source.inject(frame, !perFrame)) {
        refused++;
        break;
      }
    source.endInjectBurst();
    await new Promise((r) => setImmediate(r));
  }
  await guest.exited;
  const r = result;
  console.log(`${kind} rxPollTurns=${rxPollTurns} ${(r.received / r.seconds / 1e6).toFixed(3)} M/s, ${(r.interrupts / r.received).toFixed(4)} rx irq/frame, ${refused} refusals`);
}
process.exit(0);
