// Single-device stream probe used to profile and measure the hot path (docs/benchmarks.md):
//   node --conditions=@vbus/source --import tsx bench/stream-probe.ts <echo|venet|virtio-net> <in|worker> [frames] [bytes]
// runs the bench's stream scenario three times and prints frames/s; add --cpu-prof to profile.
// SIGNALS=1 also prints the run's signal totals (kicks, suppressed kicks, interrupts).
// The NICs deliver to the bench's sink backend (NOSINK=1: no backend).
import type { ContainerModule } from 'inversify';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { echoModule } from '@vbus/core/reference/echo';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';
import { runJob } from './scenarios.js';
import { SinkBackend } from './sink-backend.js';

const device = (process.argv[2] ?? 'venet') as 'echo' | 'venet' | 'virtio-net';
const mode = process.argv[3] ?? 'in';
const frames = Number(process.argv[4] ?? 1_000_000);
const size = Number(process.argv[5] ?? 64);
const { vbus } = createVbus({ modules: [echoModule, venetModule as ContainerModule, virtioNetModule as ContainerModule] });
const bus = vbus.createBus('p');
// the echo device polls its tx queue 16 turns, as the bench's echo stream rows (ECHO_DEVICE_POLL_TURNS=0: classic)
bus.createDevice('vbus-echo', 'echo-n10', { txCompleteEvery: 10, pollTurns: Number(process.env.ECHO_DEVICE_POLL_TURNS ?? 16) });
// a sink backend, as the bench's rows have (the device copies each frame and hands it over);
// NOSINK=1: none (each frame a counted drop, not copied), as the bench was before
const sink = process.env.NOSINK ? undefined : new SinkBackend();
// DEVICE_POLL_TURNS=N: the NICs' tx polling turns (default 16)
const pollTurns = process.env.DEVICE_POLL_TURNS ? { pollTurns: Number(process.env.DEVICE_POLL_TURNS) } : {};
bus.createDevice('virtual-ethernet', 'venet0', { txCompleteEvery: 10, backend: sink, ...pollTurns });
bus.createDevice('virtio-net', 'virtio-net0', { backend: sink, ...pollTurns });
const name = device === 'echo' ? 'echo-n10' : device === 'venet' ? 'venet0' : 'virtio-net0';
// the echo driver polls its rings 16 turns, as in the bench's throughput rows (ECHO_POLL_TURNS=0: classic)
const job = { kind: 'stream' as const, device, deviceName: name, size, frames, batching: true, driverPollTurns: Number(process.env.ECHO_POLL_TURNS ?? 16) };
for (let rep = 0; rep < 3; rep++) {
  if (mode === 'in') {
    const bytes = 16 << 20;
    const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, bytes)).open(name);
    const r = await runJob(job, conn, new GuestAllocator(0x10000, bytes));
    console.log(device, mode, r.signals ? (frames / r.signals.seconds / 1e6).toFixed(3) + ' M/s' : r.error, process.env.SIGNALS ? JSON.stringify(r.signals) : '');
  } else {
    const connector = new WorkerConnector(bus);
    const guest = connector.spawn(new URL('./bus-guest.ts', import.meta.url), { name: 'g', workerData: { jobs: [job] } });
    const r: any = await new Promise((res) => guest.worker.on('message', (m: any) => m.t === 'result' && res(m.result)));
    await guest.exited;
    console.log(device, mode, r.signals ? (frames / r.signals.seconds / 1e6).toFixed(3) + ' M/s' : r.error, process.env.SIGNALS ? JSON.stringify(r.signals) : '');
  }
}
process.exit(0);
