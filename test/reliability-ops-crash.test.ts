// Guests killed mid-stream (terminate, throw, process.exit): the bus lets go of them, the others
// keep moving frames, and a guest reconnecting to the same device starts clean.
import { describe, expect, it } from 'vitest';
import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { venetModule } from '@vbus/venet';
import { LearningSwitch } from '@vbus/net';
import { AccountingBackend } from '../soak/accounting.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

describe('reliability: guest crashes', () => {
  it('12 kills by terminate, throw and process.exit mid-stream', async () => {
    const { vbus } = createVbus({ modules: [venetModule] });
    const bus = vbus.createBus('crash');
    const acct = new AccountingBackend(new LearningSwitch());
    const macs = { a: '52:54:00:60:00:01', b: '52:54:00:60:00:02' };
    bus.createDevice('virtual-ethernet', 'victim', { mac: macs.a, backend: acct });
    bus.createDevice('virtual-ethernet', 'bystander', { mac: macs.b, backend: acct });
    const disconnects: string[] = [];
    bus.on('disconnect', (name: string) => disconnects.push(name));
    const connector = new WorkerConnector(bus);
    const spawn = (device: string, peer: string) => {
      const counters = new SharedArrayBuffer(32);
      const g = connector.spawn(new URL('../soak/guest.ts', import.meta.url), { name: device, workerData: { device, kind: 'venet', counters, batch: 16, pauseMs: 1, size: 100 } });
      g.worker.on('error', () => {});
      const c = new Int32Array(counters);
      return {
        g,
        c,
        start: async () => {
          await waitFor(() => Atomics.load(c, 3) === 1);
          g.worker.postMessage({ cmd: 'peers', macs: [peer.split(':').map((x) => parseInt(x, 16))] });
          g.worker.postMessage({ cmd: 'run', on: true });
        },
      };
    };
    const by = spawn('bystander', macs.a);
    await by.start();
    const hows = ['terminate', 'throw', 'exit'] as const;
    for (let cycle = 0; cycle < 12; cycle++) {
      const v = spawn('victim', macs.b);
      await v.start();
      const s0 = Atomics.load(v.c, 0);
      await waitFor(() => Atomics.load(v.c, 0) > s0 + 50 && Atomics.load(v.c, 1) > 0);
      await sleep(Math.random() * 40);
      const how = hows[cycle % 3]!;
      const byBefore = Atomics.load(by.c, 0);
      const dBefore = disconnects.length;
      if (how === 'terminate') void v.g.worker.terminate();
      else v.g.worker.postMessage({ cmd: how });
      await v.g.exited;
      expect(disconnects.length).toBeGreaterThan(dBefore);
      expect(v.g.connections()).toBe(0);
      expect(v.g.memoryBytes()).toBe(0);
      expect(bus.introspect().devices.find((d) => d.name === 'victim')!.connections).toEqual([]);
      expect(bus.status('victim').state).toBe('ready');
      // the bystander keeps moving frames (its frames to the dead guest are refused and counted)
      await waitFor(() => Atomics.load(by.c, 0) > byBefore);
    }
    // a final clean guest on the same device moves frames
    const last = spawn('victim', macs.b);
    await last.start();
    await waitFor(() => Atomics.load(last.c, 1) > 100 && Atomics.load(last.c, 0) > 100);
    const a = acct.account('victim');
    expect(a.offered).toBe(a.delivered + a.refusedRx + a.droppedSwitch);
    await last.g.worker.terminate();
    await by.g.worker.terminate();
  }, 60_000);
});
