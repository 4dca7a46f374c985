// The rings alone, in one thread: a driver half and a device half of one queue, tx-shaped (one
// readable 76-byte buffer per frame, posted in batches, taken, completed in batches, reclaimed),
// with no frame copy, no event loop, no signal and no second core. What it measures is the
// instructions of the ring code itself, which the VM's phases (docs/benchmarks.md, round 5)
// leave alone: an A/B of a change to the queue code reads a few percent here that the two-thread
// streams cannot resolve. Both ABIs: the IOQ (venet) and a split virtqueue with IN_ORDER and
// EVENT_IDX (virtio-net's tx queue as our driver negotiates it).
//
//   node --conditions=@vbus/source --import tsx bench/ring-probe.ts [ioq|virtqueue|both] [frames] [reps]
import { GuestAllocator, Ioq, IoqDeviceQueue, IoqDriverQueue, RegionMemory } from '@vbus/core';
import { SplitQueueDevice, SplitQueueDriver } from '@vbus/virtio-compat';

const SIZE = 256;
const FRAME = 76; // a 64-byte frame and virtio-net's 12-byte header
const which = process.argv[2] ?? 'both';
const frames = Number(process.argv[3] ?? 5_000_000);
const reps = Number(process.argv[4] ?? 5);
if (!['ioq', 'virtqueue', 'both'].includes(which) || !(frames > 0) || !(reps > 0)) {
  console.error('usage: ring-probe.ts [ioq|virtqueue|both] [frames > 0] [reps > 0]');
  process.exit(2);
}

/** A FIFO of buffer indices, as the NIC drivers keep their free tx buffers (the same buffer returns to the same ring slot). */
class Fifo {
  private readonly ring = new Uint32Array(SIZE);
  private first = 0;
  length = SIZE;
  constructor() {
    for (let i = 0; i < SIZE; i++) this.ring[i] = i;
  }
  take(): number {
    const v = this.ring[this.first]!;
    this.first = (this.first + 1) & (SIZE - 1);
    this.length--;
    return v;
  }
  push(i: number): void {
    this.ring[(this.first + this.length) & (SIZE - 1)] = i;
    this.length++;
  }
}

function memory() {
  const base = 0x10000;
  const length = 4 << 20;
  return { mem: RegionMemory.create(base, length), allocator: new GuestAllocator(base, length) };
}

function virtqueue(): (n: number) => void {
  const { mem, allocator } = memory();
  const drv = SplitQueueDriver.allocate<number>({ name: 'tx', memory: mem, size: SIZE, allocator, inOrder: true, eventIdx: true });
  const dev = new SplitQueueDevice({ name: 'tx', memory: mem, size: SIZE, inOrder: true, eventIdx: true, ...drv.addresses, nextAvail: 0, nextUsed: 0 });
  const buffers = Array.from({ length: SIZE }, () => allocator.alloc(2048, 64));
  const free = new Fifo();
  const seg = { addr: 0, len: FRAME };
  const readable = [seg];
  const more = { more: true };
  // as virtio-net runs them: tx interrupts off, the device's notifications off while it drains
  drv.disableInterrupts();
  dev.disableNotification();
  return (n) => {
    let sent = 0;
    while (sent < n) {
      while (free.length > 0 && sent < n) {
        const i = free.take();
        seg.addr = buffers[i]!;
        drv.add(readable, [], i, more);
        sent++;
      }
      drv.needsKick();
      for (let c = dev.popChain(); c !== null; c = dev.popChain()) dev.addUsed(c.id, 0, true);
      dev.needsNotification();
      drv.takeUsed(free);
    }
  };
}

function ioq(): (n: number) => void {
  const { mem, allocator } = memory();
  const at = allocator.alloc(Ioq.byteLength(SIZE), 64);
  const drv = new IoqDriverQueue(mem, at, SIZE, 'tx');
  const dev = new IoqDeviceQueue(mem, at, Ioq.byteLength(SIZE), () => {}, 'tx');
  const buffers = Array.from({ length: SIZE }, () => allocator.alloc(2048, 64));
  const free = new Fifo();
  const back = (cookie: number) => free.push(cookie);
  return (n) => {
    let sent = 0;
    while (sent < n) {
      while (free.length > 0 && sent < n) {
        const i = free.take();
        drv.post(buffers[i]!, FRAME, i, true);
        sent++;
      }
      drv.publish();
      while (dev.next()) dev.complete(0, true);
      dev.publish();
      drv.reclaim(back);
    }
  };
}

for (const [name, make] of [
  ['ioq', ioq],
  ['virtqueue', virtqueue],
] as const) {
  if (which !== 'both' && which !== name) continue;
  const run = make();
  run(Math.min(frames, 2_000_000)); // warm up: optimized code before the first timed rep
  const ns: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    run(frames);
    ns.push(((performance.now() - t0) * 1e6) / frames);
  }
  const sorted = [...ns].sort((a, b) => a - b);
  console.log(`${name.padEnd(9)} ${sorted[sorted.length >> 1]!.toFixed(1)} ns/frame median (reps ${ns.map((v) => v.toFixed(1)).join(' ')})`);
}
