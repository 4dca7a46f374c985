import type { GuestAllocator, GuestConnection } from '@vbus/core';
import { BLOCK_S_OK, BLOCK_SECTOR_SIZE, BLOCK_T_READ, BLOCK_T_WRITE } from './block-abi.js';
import { BlockDriver } from './block-driver.js';

/** What {@link runBlockScenario} saw from the guest's side. */
export interface BlockScenarioResult {
  /** Requests completed with status OK. */
  ok: number;
  /** Every sector read back held what was written; discarded sectors read back as zeros. */
  intact: boolean;
  /** Kicks the driver injected (crossed) and suppressed, completion interrupts it took. */
  kicks: number;
  kicksSuppressed: number;
  interrupts: number;
  /** The device's GET_INFO capacity. */
  sectors: number;
}

/**
 * The same block workload on any connector: write `blocks` blocks of `sectorsPerBlock` sectors
 * in bursts of `burst` requests (one kick per burst), flush, read every block back and compare,
 * discard the first block and check it reads back as zeros. Block b's bytes are (b * 7 + i) & 0xff.
 */
export async function runBlockScenario(
  conn: GuestConnection,
  allocator: GuestAllocator,
  options: { blocks: number; sectorsPerBlock: number; burst: number; ringSize?: number; wait?: (done: () => boolean) => Promise<void> },
): Promise<BlockScenarioResult> {
  const d = await BlockDriver.open(conn, allocator, { ringSize: options.ringSize });
  const { blocks, sectorsPerBlock: spb, burst } = options;
  const bytes = spb * BLOCK_SECTOR_SIZE;
  const buffers: number[] = [];
  for (let i = 0; i < Math.min(burst, d.ring.count); i++) buffers.push(allocator.alloc(bytes, 64));
  const mem = conn.memory;
  const pattern = new Uint8Array(bytes);
  let ok = 0;
  let intact = true;
  let finished = 0;
  const defaultWait = (done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const tick = () => (done() ? resolve() : conn.closed ? reject(new Error('connection closed')) : setImmediate(tick));
      tick();
    });
  const wait = options.wait ?? defaultWait;
  const fill = (b: number) => {
    for (let i = 0; i < bytes; i++) pattern[i] = (b * 7 + i) & 0xff;
  };
  const check = (b: number, at: number) => {
    fill(b);
    const got = mem.read(at, bytes);
    for (let i = 0; i < bytes; i++) if (got[i] !== pattern[i]) return false;
    return true;
  };
  const pending = new Map<number, number>(); // tag (block) -> buffer
  let phase: 'write' | 'read' = 'write';
  d.onComplete = (tag, status) => {
    finished++;
    if (status === BLOCK_S_OK) ok++;
    else intact = false;
    if (phase === 'read' && !check(tag, pending.get(tag)!)) intact = false;
    pending.delete(tag);
  };
  for (phase of ['write', 'read'] as const) {
    finished = 0;
    for (let b = 0; b < blocks; b += buffers.length) {
      const n = Math.min(buffers.length, blocks - b);
      for (let i = 0; i < n; i++) {
        const buf = buffers[i]!;
        if (phase === 'write') {
          fill(b + i);
          mem.write(buf, pattern);
        }
        pending.set(b + i, buf);
        d.submit(phase === 'write' ? BLOCK_T_WRITE : BLOCK_T_READ, (b + i) * spb, spb, buf, b + i, i < n - 1);
      }
      const target = b + n;
      await wait(() => finished >= target);
    }
  }
  const flushed = d.flush().then(() => ok++);
  await wait(() => d.inFlight === 0);
  await flushed;
  const discarded = d.discard(0, spb).then(() => ok++);
  await wait(() => d.inFlight === 0);
  await discarded;
  const readBack = d.read(0, spb, buffers[0]!).then(() => {
    ok++;
    if (mem.read(buffers[0]!, bytes).some((x) => x !== 0)) intact = false;
  });
  await wait(() => d.inFlight === 0);
  await readBack;
  const s = d.ring.signalCounters;
  return { ok, intact, kicks: s.injected, kicksSuppressed: s.suppressed, interrupts: s.wakeups, sectors: d.info.sectors };
}
