// TOCTOU: a second thread (a guest vCPU) rewrites descriptors in a loop over the same
// SharedArrayBuffer while the host processes them. The host must never touch memory outside the
// guest's regions (RecordingMemory), never throw an untyped error, and fail only with its own
// checks' errors: a MemoryAccessError inside a failure would mean the device used a value it had
// not checked (it read the descriptor twice). See docs/reliability-hostile.md.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestAllocator, IOQ_HEADER_SIZE, IOQ_OFF_IDX_VALID, RegionMemory, RingError, VbusError, le } from '@vbus/core';
import { PackedQueueDevice, PackedQueueDriver, SplitQueueDevice, SplitQueueDriver, type Segment, type VirtqueueDevice, type VirtqueueDriver } from '@vbus/virtio-compat';
import { VENET_CAP_SG, VENET_IOV_OFF_LEN, VENET_IOV_OFF_PTR, VENET_IOV_SIZE, VENET_SG_OFF_COUNT, VENET_SG_OFF_IOV, VENET_SG_OFF_LEN, venetSgSize } from '@vbus/venet';
import { CaptureBackend } from '@vbus/net/testing';
import { checkHealthy, dropBus, frame, freshBus, GUEST_BASE, GUEST_BYTES, guestMemory, openHealthy, openRawVenet } from '../fuzz/harness/venet.js';
import { checkMemory, checkNamedError, settleQuiet, tolerate } from '../fuzz/oracle.js';
import { RecordingMemory } from '../fuzz/recording-memory.js';

const BOOT = new URL('../packages/core/src/node/ts-worker.mjs', import.meta.url);
const FLIPPER = new URL('./fixtures/reliability-flipper.ts', import.meta.url).href;
/** Wall time each scenario races the flipper. */
const RACE_MS = Number(process.env.VBUS_TOCTOU_MS ?? 2500);

class Flipper {
  readonly control = new Int32Array(new SharedArrayBuffer(8));
  readonly worker: Worker;
  readonly ready: Promise<void>;
  constructor(buffer: SharedArrayBuffer, ranges: Array<[number, number]>, seed: number) {
    this.control[0] = 2; // start paused
    this.worker = new Worker(BOOT, { workerData: { __vbusEntry: FLIPPER, buffer, ranges, control: this.control.buffer, seed } });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', () => resolve());
      this.worker.once('error', reject);
    });
  }
  run(): void {
    Atomics.store(this.control, 0, 0);
  }
  /** Pause and give the worker time to finish its batch. */
  async pause(): Promise<void> {
    Atomics.store(this.control, 0, 2);
    await new Promise((r) => setTimeout(r, 2));
  }
  async stop(): Promise<number> {
    Atomics.store(this.control, 0, 1);
    await new Promise((r) => this.worker.once('message', r));
    await this.worker.terminate();
    return this.control[1]!;
  }
}

let flipper: Flipper | undefined;
afterEach(async () => {
  await flipper?.stop();
  flipper = undefined;
});

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('TOCTOU: a guest thread rewrites descriptors while the host reads them', () => {
  it('venet: IOQ descriptors and indices, and SG descriptors', async () => {
    const gm = guestMemory();
    const sab = gm.raw.regions()[0]!.buffer as SharedArrayBuffer;
    const ringSize = 8;
    // a dry setup finds where the rings and SG descriptors will be (the allocator is deterministic)
    const dry = freshBus();
    dry.createDevice('virtual-ethernet', 'venet0', { ringSize });
    const layout = await openRawVenet(dry, 'venet0', { sg: VENET_CAP_SG, ringSize, memory: { ...gm, alloc: new GuestAllocator(GUEST_BASE, GUEST_BYTES) } });
    dropBus(dry);
    const off = (a: number) => a - GUEST_BASE;
    const ranges: Array<[number, number]> = [
      [off(layout.tx.ioq.address + IOQ_OFF_IDX_VALID), IOQ_HEADER_SIZE - IOQ_OFF_IDX_VALID],
      [off(layout.tx.ioq.address + IOQ_HEADER_SIZE), ringSize * 32],
      [off(layout.tx.ioq.address + IOQ_HEADER_SIZE), ringSize * 32], // twice: descriptors get most flips
      [off(layout.rx.ioq.address + IOQ_HEADER_SIZE), ringSize * 32],
      ...layout.txBuffers.map((b): [number, number] => [off(b + 1536), venetSgSize(2)]),
    ];
    flipper = new Flipper(sab, ranges, 0x5eed);
    await flipper.ready;

    const stats = { rounds: 0, failed: 0, progress: 0, frames: 0, posts: 0 };
    const end = Date.now() + RACE_MS;
    while (Date.now() < end) {
      await flipper.pause();
      gm.raw.view(GUEST_BASE, 0x10000).fill(0);
      const bus = freshBus();
      try {
        const evil = new CaptureBackend();
        bus.createDevice('virtual-ethernet', 'venet0', { backend: evil, ringSize });
        const healthy = await openHealthy(bus, 'venet1');
        const mem = new RecordingMemory(gm.raw);
        const g = await openRawVenet(bus, 'venet0', { sg: VENET_CAP_SG, ringSize, memory: { raw: gm.raw, mem, alloc: new GuestAllocator(GUEST_BASE, GUEST_BYTES) } });
        flipper.run();
        for (let it = 0; it < 40 && bus.status('venet0').state === 'ready' && !g.conn.closed; it++) {
          await tolerate('guest post', () => {
            g.tx.reclaim(() => {});
            for (let i = 0; g.tx.canPost && i < ringSize; i++) {
              const buf = g.txBuffers[i]!;
              const sg = g.raw.view(buf + 1536, venetSgSize(2));
              sg.fill(0);
              le.setU32(sg, VENET_SG_OFF_LEN, 64);
              le.setU32(sg, VENET_SG_OFF_COUNT, 2);
              for (let k = 0; k < 2; k++) {
                le.setU32(sg, VENET_SG_OFF_IOV + k * VENET_IOV_SIZE + VENET_IOV_OFF_LEN, 32);
                le.setU64(sg, VENET_SG_OFF_IOV + k * VENET_IOV_SIZE + VENET_IOV_OFF_PTR, buf + 32 * k);
              }
              g.raw.view(buf, 64).set(frame(i));
              g.tx.post(buf + 1536, venetSgSize(2), i);
              stats.posts++;
            }
            g.tx.kick();
            g.rx.reclaim((cookie) => g.rx.post(g.rxBuffers[cookie % ringSize]!, 2048, cookie));
          });
          evil.inject(frame(it)); // the rx path walks the rx ring the flipper is rewriting too
          await turn();
        }
        await flipper.pause();
        await settleQuiet([mem], 'venet toctou');
        checkMemory(mem, 'venet toctou');
        const st = bus.status('venet0');
        if (st.state === 'failed') {
          checkNamedError(st.error, /ring venet0\.(rx|tx)/, 'venet toctou');
          stats.failed++;
        } else stats.progress++;
        for (const f of evil.frames) (expect(f.frame.length).toBeGreaterThanOrEqual(14), expect(f.frame.length).toBeLessThanOrEqual(1518));
        stats.frames += evil.frames.length;
        await checkHealthy(bus, 'venet1', healthy, 'venet toctou');
      } finally {
        dropBus(bus);
      }
      stats.rounds++;
    }
    const flips = await flipper.stop();
    flipper = undefined;
    console.log(
      `TOCTOU venet: ${stats.rounds} rounds (${stats.failed} failed cleanly, ${stats.progress} kept going), ${stats.posts} posts, ${stats.frames} frames sent, ${flips} bytes flipped`,
    );
    expect(stats.rounds).toBeGreaterThan(0);
    expect(flips).toBeGreaterThan(0);
  });

  for (const kind of ['split', 'packed'] as const) {
    it(`virtio ${kind} ring: descriptors, ${kind === 'split' ? 'avail ring' : 'driver event area'} and indirect tables`, async () => {
      const BASE = 0x10000;
      const BYTES = 1 << 20;
      const raw = RegionMemory.create(BASE, BYTES);
      const sab = raw.regions()[0]!.buffer as SharedArrayBuffer;
      const size = 8;
      const make = (alloc: GuestAllocator, mem: RecordingMemory): { drv: VirtqueueDriver<number>; dev: VirtqueueDevice } => {
        const common = { name: 'evil.q0', memory: raw, size, indirect: true, eventIdx: false, allocator: alloc };
        if (kind === 'split') {
          const drv = SplitQueueDriver.allocate<number>(common);
          return { drv, dev: new SplitQueueDevice({ ...common, memory: mem, ...drv.addresses, nextAvail: 0, nextUsed: 0 }) };
        }
        const drv = PackedQueueDriver.allocate<number>(common);
        return { drv, dev: new PackedQueueDevice({ ...common, memory: mem, ...drv.addresses }) };
      };
      // rings first, then segments and indirect tables: flip the rings hard and the next 8 KiB
      const probe = make(new GuestAllocator(BASE, BYTES), new RecordingMemory(raw));
      const addrs = Object.values((probe.drv as unknown as { addresses: Record<string, number> }).addresses);
      const ringEnd = Math.max(...addrs) + 16 * size;
      const ranges: Array<[number, number]> = [
        [addrs[0]! - BASE, ringEnd - addrs[0]!],
        [addrs[0]! - BASE, 16 * size],
        [ringEnd - BASE, 8192],
      ];
      flipper = new Flipper(sab, ranges, kind === 'split' ? 11 : 12);
      await flipper.ready;
      const stats = { rounds: 0, chains: 0, ringErrors: 0, guestErrors: 0 };
      const rules = new Set<string>();
      const end = Date.now() + RACE_MS / 2;
      while (Date.now() < end) {
        await flipper.pause();
        raw.view(BASE, 0x10000).fill(0);
        const alloc = new GuestAllocator(BASE, BYTES);
        const mem = new RecordingMemory(raw);
        const { drv, dev } = make(alloc, mem);
        flipper.run();
        for (let it = 0; it < 100 && !dev.failed; it++) {
          const guest = await tolerate('guest driver', () => {
            const r: Segment[] = [
              { addr: alloc.alloc(32, 8), len: 32 },
              { addr: alloc.alloc(16, 8), len: 16 },
            ];
            const w: Segment[] = [{ addr: alloc.alloc(64, 8), len: 64 }];
            drv.add(r, w, it, { indirect: it % 2 === 0 });
            while (drv.getUsed() !== null);
          });
          if (guest) {
            stats.guestErrors++;
            break; // the guest broke its own ring; start a new round
          }
          try {
            for (let chain = dev.popChain(), n = 0; chain !== null && n < size; chain = dev.popChain(), n++) {
              for (let i = 0; i < chain.length; i++) if (chain.len(i) > 0) expect(mem.inside(chain.addr(i), chain.len(i))).toBe(true);
              chain.reader().readAll();
              const w = chain.writer();
              w.write(new Uint8Array(Math.min(chain.writableBytes, 128)).fill(0xee));
              dev.addUsed(chain.id, w.written);
              stats.chains++;
            }
          } catch (e) {
            if (!(e instanceof RingError)) throw new Error(`untyped or non-ring error from the device: ${VbusError.is(e) ? e.message : String(e)}`);
            expect(e.ring).toBe('evil.q0');
            expect(e.message).not.toMatch(/byte\(s\) at guest address/);
            rules.add(e.rule.replace(/\d+/g, 'N').slice(0, 60));
            stats.ringErrors++;
          }
          await turn();
        }
        await flipper.pause();
        checkMemory(mem, `virtio ${kind} toctou`);
        stats.rounds++;
      }
      const flips = await flipper.stop();
      flipper = undefined;
      console.log(
        `TOCTOU virtio ${kind}: ${stats.rounds} rounds, ${stats.chains} chains served, ${stats.ringErrors} ring errors (${rules.size} distinct rules), ${stats.guestErrors} guest-driver errors, ${flips} bytes flipped`,
      );
      expect(stats.rounds).toBeGreaterThan(0);
    });
  }
});
