// Overload with nothing lost: a fast sender against a slow receiver, 8 NICs all sending to each
// other at full speed, a signal storm next to streaming guests, and heap growth under load.
// Every frame a guest sent is delivered or counted as dropped, per device and per switch port.
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { VENET_FUNC_FLUSHRX, VENET_FUNC_LINKDOWN, VenetDriver, venetModule, type VenetDevice } from '@vbus/venet';
import { LearningSwitch } from '@vbus/net';
import { LoadRig, getGc, sleep, type NicFigures } from './fixtures/reliability-ops-load-rig.js';
import {
  LOAD_BLOCKED_MS,
  LOAD_CALLS,
  LOAD_CALLS_ACCEPTED,
  LOAD_CALLS_REJECTED,
  LOAD_SIG_INJECTED,
  LOAD_SIG_STRANDED,
  LOAD_SIG_SUPPRESSED,
  LOAD_STORM_KICKS,
} from './fixtures/reliability-ops-load-layout.js';

const sum = (m: Map<string, NicFigures>, k: keyof NicFigures, names?: string[]) => [...m].filter(([n]) => !names || names.includes(n)).reduce((s, [, f]) => s + f[k], 0);

function checkAll(d: Map<string, NicFigures>): void {
  const problems = [...d].flatMap(([n, f]) => LoadRig.broken(n, f));
  expect(problems).toEqual([]);
  // end to end: what was sent is what was received plus what was refused at the receivers
  expect(sum(d, 'sent')).toBe(sum(d, 'devRx') + sum(d, 'devRxDrops'));
  expect(sum(d, 'portTx')).toBe(sum(d, 'portRx') + sum(d, 'portDrops'));
}

describe('reliability: overload', () => {
  it('fast senders vs slow receivers (rx rings full): sent = delivered + counted drops, per device and per port', async () => {
    const rig = new LoadRig(64, 256);
    try {
      // worker 0: two fast senders; worker 1: two slow receivers (the thread blocks 2 ms every 16 frames)
      const [fv, fn] = rig.addWorker([
        { device: 'fast-venet', kind: 'venet' },
        { device: 'fast-vnet', kind: 'virtio-net' },
      ]);
      const [sv, sn] = rig.addWorker([
        { device: 'slow-vnet', kind: 'virtio-net', slowEvery: 16, slowMs: 2 },
        { device: 'slow-venet', kind: 'venet', slowEvery: 16, slowMs: 2 },
      ]);
      await rig.start();
      const sw0 = { ...rig.sw.stats };
      const before = rig.snapshot();
      rig.setPeers(fv!, [sv!]); // venet -> virtio-net
      rig.setPeers(fn!, [sn!]); // virtio-net -> venet
      rig.run(true, [fv!, fn!]);
      await sleep(2000);
      await rig.quiesce();
      const d = LoadRig.delta(before, rig.snapshot());
      expect(rig.sw.stats.flooded - sw0.flooded).toBe(0);
      checkAll(d);
      for (const [s, r] of [
        [fv!, sv!],
        [fn!, sn!],
      ] as const) {
        const a = d.get(s.device)!;
        const b = d.get(r.device)!;
        // each sender's frames: delivered to its receiver + refused by its full rx ring
        expect(a.sent).toBe(b.rxMine + b.devRxDrops);
        expect(a.devTxDrops).toBe(b.devRxDrops);
        expect(b.devRxDrops).toBeGreaterThan(0); // the ring really was full
        expect(b.rxMine).toBeGreaterThan(0); // and the slow receiver still took frames
        const blocked = rig.cell(r, LOAD_BLOCKED_MS);
        console.log(
          `slow receiver ${s.kind}->${r.kind}: sent ${a.sent}, delivered ${b.rxMine}, dropped (rx ring full, counted) ${b.devRxDrops} ` +
            `(${((100 * b.devRxDrops) / a.sent).toFixed(1)}%), receiver blocked ${blocked} ms, sender tx ring full ${a.txBusy} times`,
        );
      }
    } finally {
      await rig.close();
    }
  }, 30_000);

  it('8 NICs (4 workers x 2, venet and virtio-net) all to all at full load: exact accounting, no starvation', async () => {
    const rig = new LoadRig(32, 128);
    try {
      for (let w = 0; w < 4; w++) {
        rig.addWorker([
          { device: `w${w}-venet`, kind: 'venet' },
          { device: `w${w}-vnet`, kind: 'virtio-net' },
        ]);
      }
      await rig.start();
      for (const n of rig.nics)
        rig.setPeers(
          n,
          rig.nics.filter((p) => p !== n),
        );
      const sw0 = { ...rig.sw.stats };
      const before = rig.snapshot();
      const t0 = Date.now();
      rig.run(true);
      await sleep(3000);
      await rig.quiesce();
      const secs = (Date.now() - t0) / 1000;
      const d = LoadRig.delta(before, rig.snapshot());
      expect(rig.sw.stats.flooded - sw0.flooded).toBe(0);
      expect(rig.sw.stats.forwarded - sw0.forwarded).toBe(sum(d, 'sent'));
      checkAll(d);
      const n = rig.nics.length;
      const meanOut = sum(d, 'delivered') / n;
      const meanIn = sum(d, 'devRx') / n;
      const rows = [...d].map(([name, f]) => `${name} out ${f.delivered}+${f.refusedRx}d in ${f.devRx}+${f.devRxDrops}d`);
      console.log(
        `8 NICs all-to-all, ${secs.toFixed(1)} s: sent ${sum(d, 'sent')}, delivered ${sum(d, 'devRx')}, dropped (counted) ${sum(d, 'devRxDrops')}, lost 0; ` +
          `${Math.round(sum(d, 'devRx') / secs)} frames/s delivered\n  ${rows.join('\n  ')}`,
      );
      const minOut = Math.min(...[...d.values()].map((f) => f.delivered));
      const minIn = Math.min(...[...d.values()].map((f) => f.devRx));
      console.log(`fairness: least delivered by one NIC ${(minOut / meanOut).toFixed(2)} of the mean, least received ${(minIn / meanIn).toFixed(2)} of the mean`);
      // no starvation: every NIC made progress both ways (how fair the shares were is printed
      // above and measured by the bench; a ratio here would depend on how loaded the machine is)
      for (const [name, f] of d) {
        expect(f.delivered, `${name} delivered`).toBeGreaterThan(0);
        expect(f.devRx, `${name} received`).toBeGreaterThan(0);
      }
    } finally {
      await rig.close();
    }
  }, 40_000);

  it('a signal storm (tight kick loop + garbage calls) next to streaming guests: every bystander keeps moving frames, every kick counted', async () => {
    const rig = new LoadRig(32, 128);
    try {
      const a = rig.addWorker([
        { device: 's0-venet', kind: 'venet' },
        { device: 's1-vnet', kind: 'virtio-net' },
      ]);
      const b = rig.addWorker([
        { device: 's2-vnet', kind: 'virtio-net' },
        { device: 's3-venet', kind: 'venet' },
      ]);
      const [storm] = rig.addWorker([{ device: 'storm', kind: 'venet' }]);
      await rig.start();
      const streamers = [...a, ...b];
      const names = streamers.map((n) => n.device);
      for (const n of streamers)
        rig.setPeers(
          n,
          streamers.filter((p) => p !== n),
        );
      const before = rig.snapshot();
      rig.run(true, streamers);
      await sleep(300); // ramp up
      const p0 = rig.snapshot();
      const t0 = Date.now();
      await sleep(1500);
      const p1 = rig.snapshot();
      const t1 = Date.now();
      const calm = sum(LoadRig.delta(p0, p1), 'delivered', names) / ((t1 - t0) / 1000);
      const inj0 = rig.cell(storm!, LOAD_SIG_INJECTED);
      const sup0 = rig.cell(storm!, LOAD_SIG_SUPPRESSED);
      const hostSig0 = rig.bus.introspect().devices.find((x) => x.name === 'storm')!.connections[0]!.signals[1]!;
      const dev0 = rig.figures(storm!);
      rig.post(storm!.worker, { cmd: 'storm', nic: 0, on: true, calls: true });
      await sleep(300);
      const p2 = rig.snapshot();
      const t2 = Date.now();
      await sleep(1500);
      const p3 = rig.snapshot();
      const t3 = Date.now();
      const stormy = sum(LoadRig.delta(p2, p3), 'delivered', names) / ((t3 - t2) / 1000);
      await rig.quiesce();
      const d = LoadRig.delta(before, rig.snapshot());
      checkAll(d);
      const kicks = rig.cell(storm!, LOAD_STORM_KICKS);
      const inj = rig.cell(storm!, LOAD_SIG_INJECTED);
      const sup = rig.cell(storm!, LOAD_SIG_SUPPRESSED);
      const hostSig = rig.bus.introspect().devices.find((x) => x.name === 'storm')!.connections[0]!.signals[1]!;
      const dev1 = rig.figures(storm!);
      const calls = rig.cell(storm!, LOAD_CALLS);
      const rejected = rig.cell(storm!, LOAD_CALLS_REJECTED);
      const accepted = rig.cell(storm!, LOAD_CALLS_ACCEPTED);
      const ratio = stormy / calm;
      console.log(
        `signal storm: bystanders ${Math.round(calm)} frames/s calm, ${Math.round(stormy)} frames/s during the storm (ratio ${ratio.toFixed(2)}); ` +
          `storm kicks ${kicks}: crossed ${inj - inj0}, coalesced ${sup - sup0}; host wakeups ${hostSig.wakeups - hostSig0.wakeups}, device tx kicks (handler runs) ${dev1.devTxKicks - dev0.devTxKicks}; ` +
          `garbage calls ${calls}: rejected ${rejected}, accepted ${accepted}`,
      );
      // the bystanders kept moving during the storm, every one of them (the ratio is printed, not
      // asserted: it depends on how loaded the machine is)
      const during = LoadRig.delta(p2, p3);
      for (const name of names) expect(during.get(name)!.delivered, `${name} delivered during the storm`).toBeGreaterThan(0);
      // every kick the storm issued crossed or was coalesced by the shm-signal: none unaccounted
      expect(inj - inj0 + (sup - sup0)).toBe(kicks);
      expect(sup - sup0).toBeGreaterThan(0);
      // nothing stranded: once the storm stopped the host had taken every kick (dirty and pending clear)
      expect(rig.cell(storm!, LOAD_SIG_STRANDED)).toBe(0);
      expect(dev1.devTxKicks - dev0.devTxKicks).toBeGreaterThan(0);
      expect(dev1.devTxKicks).toBe(hostSig.handlerRuns);
      // every garbage call was answered, none accepted, and the device is still fine
      expect(rejected + accepted).toBe(calls);
      expect(calls).toBeGreaterThan(0);
      expect(accepted).toBe(0);
      expect(rig.bus.status('storm').state).toBe('ready');
      expect(dev1.devTx - dev0.devTx).toBe(0);
    } finally {
      await rig.close();
    }
  }, 40_000);

  it('heap stays flat under sustained load (8 NICs, 4 rounds)', async () => {
    const { gc, how } = getGc();
    const rig = new LoadRig(32, 128);
    try {
      for (let w = 0; w < 4; w++) {
        rig.addWorker([
          { device: `m${w}-venet`, kind: 'venet' },
          { device: `m${w}-vnet`, kind: 'virtio-net' },
        ]);
      }
      await rig.start();
      for (const n of rig.nics)
        rig.setPeers(
          n,
          rig.nics.filter((p) => p !== n),
        );
      const before = rig.snapshot();
      const round = async () => {
        rig.run(true);
        await sleep(1000);
        await rig.quiesce();
      };
      await round(); // warm: JIT, first allocations
      gc?.();
      await sleep(50);
      gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < 3; i++) await round();
      gc?.();
      await sleep(50);
      gc?.();
      const heap1 = process.memoryUsage().heapUsed;
      const d = LoadRig.delta(before, rig.snapshot());
      checkAll(d);
      const growth = (heap1 - heap0) / 1048576;
      console.log(
        `heap: ${(heap0 / 1048576).toFixed(1)} MB before, ${(heap1 / 1048576).toFixed(1)} MB after 3 more rounds ` +
          `(${sum(d, 'sent')} frames sent in all), growth ${growth.toFixed(2)} MB (gc: ${how})`,
      );
      expect(growth).toBeLessThan(gc ? 4 : 64);
    } finally {
      await rig.close();
    }
  }, 40_000);
});

describe('reliability: venet burst mode under overload', () => {
  for (const how of ['link down', 'FLUSHRX', 'unplug'] as const) {
    it(`frames the device took into its burst backlog and then discarded (${how}) are counted as rx drops`, async () => {
      const { vbus } = createVbus({ modules: [venetModule] });
      const bus = vbus.createBus('burst');
      const sw = new LearningSwitch({ name: 'burst' });
      bus.createDevice('virtual-ethernet', 'v', { mac: '52:54:00:90:00:01', backend: sw, burstThresholdUs: 1_000_000 });
      const dev = bus.device<VenetDevice>('v');
      const injector = sw.attach({ name: 'injector', mac: Uint8Array.of(0x52, 0x54, 0, 0x90, 0, 2) }, { deliver: () => true });
      const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, 8 << 20)).open('v');
      const d = await VenetDriver.open(conn, new GuestAllocator(0x10000, 8 << 20));
      let got = 0;
      d.onFrame = () => got++;
      const f = new Uint8Array(100);
      f.set(d.mac, 0);
      f.set(Uint8Array.of(0x52, 0x54, 0, 0x90, 0, 2), 6);
      f[12] = 0x88;
      f[13] = 0xb5;
      // back to back: the first is placed inline, the rest wait in the backlog for the bottom half
      for (let i = 0; i < 50; i++) expect(injector.deliver(f)).toBe(true);
      if (how === 'link down') dev.connection!.call(VENET_FUNC_LINKDOWN, new Uint8Array(0));
      else if (how === 'FLUSHRX') dev.connection!.call(VENET_FUNC_FLUSHRX, new Uint8Array(0));
      else bus.removeDevice('v');
      for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
      const port = dev.port!.counters;
      const rx = dev.counters().rx as Record<string, number>;
      // the switch saw 50 frames taken by the NIC: each is placed in the ring or counted as dropped
      expect(port.rxFrames).toBe(50);
      expect(rx.frames! + rx.drops!, `placed ${rx.frames} + dropped ${rx.drops}`).toBe(port.rxFrames);
      if (how !== 'unplug') expect(got).toBe(rx.frames);
    });
  }
});
