// The block device against a hostile guest: every request field is the guest's to lie about.
// Each bad request is refused with a status and an error naming the device, the queue and the
// rule, and the device stays up; only a broken ring (the IOQ's own rules) fails the device.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestAllocator, InProcessConnector, IOQ_IDX_HEAD, IOQ_OFF_IDX_INUSE, RegionMemory, createVbus, le, openDriverRing, type Bus, type DriverRing } from '@vbus/core';
import {
  BLOCK_COMPLETE_BAD_HEADER,
  BLOCK_QUEUE_REQ,
  BLOCK_REQ_COUNT,
  BLOCK_REQ_DATA,
  BLOCK_REQ_FLAGS,
  BLOCK_REQ_SECTOR,
  BLOCK_REQ_SIZE,
  BLOCK_REQ_STATUS,
  BLOCK_REQ_TYPE,
  BLOCK_S_INVALID,
  BLOCK_S_OK,
  BLOCK_S_UNSUPP,
  BLOCK_T_DISCARD,
  BLOCK_T_FLUSH,
  BLOCK_T_READ,
  BLOCK_T_WRITE,
  BlockDriver,
  MemoryBlockBackend,
  blockModule,
} from './index.js';

const BASE = 0x10000;
const BYTES = 1 << 20;
const SECTORS = 128;
const MAX_SECTORS = 16;

interface Req {
  type: number;
  flags?: number;
  sector: number | bigint;
  count: number;
  data: number;
}

/** A guest that writes request headers by hand and posts them on the raw request ring. */
async function hostileGuest(bus: Bus, device = 'blk0') {
  const memory = RegionMemory.create(BASE, BYTES);
  const allocator = new GuestAllocator(BASE, BYTES);
  const conn = new InProcessConnector(bus, memory).open(device);
  const ring: DriverRing = await openDriverRing(conn, { id: BLOCK_QUEUE_REQ, count: 64, allocator });
  const header = allocator.alloc(BLOCK_REQ_SIZE * 64, 64);
  const data = allocator.alloc(MAX_SECTORS * 512 * 2, 512);
  const done: Array<{ cookie: number; len: number; status: number }> = [];
  ring.onComplete = (cookie, len) => done.push({ cookie, len, status: le.getU32(memory.read(header + cookie * BLOCK_REQ_SIZE + BLOCK_REQ_STATUS, 4), 0) });
  const write = (slot: number, r: Req): number => {
    const h = new Uint8Array(BLOCK_REQ_SIZE);
    le.setU32(h, BLOCK_REQ_TYPE, r.type);
    le.setU32(h, BLOCK_REQ_FLAGS, r.flags ?? 0);
    le.setU64Big(h, BLOCK_REQ_SECTOR, BigInt(r.sector));
    le.setU32(h, BLOCK_REQ_COUNT, r.count);
    le.setU32(h, BLOCK_REQ_STATUS, 0xee);
    le.setU64(h, BLOCK_REQ_DATA, r.data);
    const at = header + slot * BLOCK_REQ_SIZE;
    memory.write(at, h);
    return at;
  };
  /** Post requests (one kick), let the device run, return their completions. */
  const run = async (reqs: Array<Req | { raw: number; len: number }>) => {
    done.length = 0;
    reqs.forEach((r, i) => ('raw' in r ? ring.post(r.raw, r.len, i, true) : ring.post(write(i, r), BLOCK_REQ_SIZE, i, true)));
    ring.flush();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return done.slice();
  };
  return { memory, allocator, conn, ring, header, data, run, headerAt: (slot: number) => header + slot * BLOCK_REQ_SIZE };
}

function newBus(): Bus {
  const { vbus } = createVbus({ modules: [blockModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('vbus-block', 'blk0', { backend: new MemoryBlockBackend(SECTORS), maxSectors: MAX_SECTORS });
  bus.createDevice('vbus-block', 'blk1', { backend: new MemoryBlockBackend(SECTORS), maxSectors: MAX_SECTORS });
  return bus;
}

const lastError = (bus: Bus) => String(bus.introspect().devices.find((d) => d.name === 'blk0')!.attributes.lastError);

describe('hostile requests are refused, the device stays up', () => {
  const cases: Array<[string, (g: Awaited<ReturnType<typeof hostileGuest>>) => Req | { raw: number; len: number }, number, RegExp]> = [
    [
      'a sector beyond the capacity',
      (g) => ({ type: BLOCK_T_READ, sector: SECTORS, count: 1, data: g.data }),
      BLOCK_S_INVALID,
      /sectors \[128, \+1\) are beyond the capacity of 128 sectors/,
    ],
    ['a range that runs past the end', (g) => ({ type: BLOCK_T_WRITE, sector: SECTORS - 2, count: 4, data: g.data }), BLOCK_S_INVALID, /beyond the capacity/],
    ['a u64 sector near 2^64', (g) => ({ type: BLOCK_T_READ, sector: 0xffff_ffff_ffff_fff0n, count: 1, data: g.data }), BLOCK_S_INVALID, /beyond the capacity/],
    ['a read of zero sectors', (g) => ({ type: BLOCK_T_READ, sector: 0, count: 0, data: g.data }), BLOCK_S_INVALID, /read of 0 sectors is not in \[1, 16\]/],
    ['an oversized count', (g) => ({ type: BLOCK_T_WRITE, sector: 0, count: MAX_SECTORS + 1, data: g.data }), BLOCK_S_INVALID, /write of 17 sectors is not in \[1, 16\]/],
    ['a count near 2^32', (g) => ({ type: BLOCK_T_READ, sector: 0, count: 0xffff_ffff, data: g.data }), BLOCK_S_INVALID, /not in \[1, 16\]/],
    [
      'a data buffer outside guest memory',
      () => ({ type: BLOCK_T_READ, sector: 0, count: 1, data: 0x7fff_0000_0000 }),
      BLOCK_S_INVALID,
      /data buffer \[0x7fff00000000, \+512\) lies outside guest memory/,
    ],
    ['a data buffer straddling the end of memory', () => ({ type: BLOCK_T_READ, sector: 0, count: 2, data: BASE + BYTES - 512 }), BLOCK_S_INVALID, /lies outside guest memory/],
    ['a data buffer overlapping its own header', (g) => ({ type: BLOCK_T_READ, sector: 0, count: 1, data: g.headerAt(0) - 256 }), BLOCK_S_INVALID, /overlaps the request header/],
    ['a data buffer overlapping the ring', (g) => ({ type: BLOCK_T_READ, sector: 0, count: 1, data: g.ring.ioq.address }), BLOCK_S_INVALID, /overlaps the request ring/],
    ['undefined flags', (g) => ({ type: BLOCK_T_READ, flags: 0x80, sector: 0, count: 1, data: g.data }), BLOCK_S_INVALID, /flags 0x80 are not defined/],
    ['an unknown request type', (g) => ({ type: 9, sector: 0, count: 1, data: g.data }), BLOCK_S_UNSUPP, /unknown request type 9/],
    ['a flush with a count', () => ({ type: BLOCK_T_FLUSH, sector: 0, count: 3, data: 0 }), BLOCK_S_INVALID, /flush takes no sector, count or data/],
    ['a discard with a data buffer', (g) => ({ type: BLOCK_T_DISCARD, sector: 0, count: 1, data: g.data }), BLOCK_S_INVALID, /discard takes no data buffer/],
  ];
  for (const [what, make, status, message] of cases) {
    it(`${what}: status ${status}, an error naming device and queue, and the next request works`, async () => {
      const bus = newBus();
      const g = await hostileGuest(bus);
      const [bad, good] = await g.run([make(g), { type: BLOCK_T_WRITE, sector: 5, count: 2, data: g.data }]);
      expect(bad).toEqual({ cookie: 0, len: 0, status });
      expect(lastError(bus)).toMatch(/^blk0\.req: request 0x[0-9a-f]+ \(cookie 0\): /);
      expect(lastError(bus)).toMatch(message);
      expect(good).toEqual({ cookie: 1, len: 1024, status: BLOCK_S_OK });
      expect(bus.status('blk0').state).toBe('ready');
      expect(bus.introspect().devices.find((d) => d.name === 'blk0')!.counters).toMatchObject({ refused: 1, writes: 1, requests: 2 });
    });
  }

  it('a descriptor whose len is not the header size, or whose header is outside memory, completes with BAD_HEADER', async () => {
    const bus = newBus();
    const g = await hostileGuest(bus);
    const done = await g.run([
      { raw: g.headerAt(0), len: BLOCK_REQ_SIZE - 1 },
      { raw: 0x7fff_0000_0000, len: BLOCK_REQ_SIZE },
      { raw: BASE + BYTES - 16, len: BLOCK_REQ_SIZE },
      { type: BLOCK_T_READ, sector: 0, count: 1, data: g.data },
    ]);
    expect(done.map((d) => d.len)).toEqual([BLOCK_COMPLETE_BAD_HEADER, BLOCK_COMPLETE_BAD_HEADER, BLOCK_COMPLETE_BAD_HEADER, 512]);
    expect(lastError(bus)).toMatch(/blk0\.req: request 0x[0-9a-f]+ \(cookie 2\): the header lies outside guest memory/);
    expect(bus.status('blk0').state).toBe('ready');
  });

  it('the header is read once: a guest that rewrites it right after the device copied it out changes nothing', async () => {
    const bus = newBus();
    const memory = RegionMemory.create(BASE, BYTES);
    let raced = 0;
    // the host's view of guest memory: after the device copies the header out, the "guest" swaps
    // in a hostile sector and count (a double fetch would see them)
    const racing = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop === 'copyOut')
          return (address: number, into: Uint8Array, offset: number, length: number) => {
            target.copyOut(address, into, offset, length);
            if (length === BLOCK_REQ_SIZE) {
              raced++;
              const evil = new Uint8Array(12);
              le.setU64(evil, 0, 0xffff_0000);
              le.setU32(evil, 8, 0xffff);
              target.write(address + BLOCK_REQ_SECTOR, evil);
            }
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const disk = new MemoryBlockBackend(SECTORS);
    bus.createDevice('vbus-block', 'blk2', { backend: disk, maxSectors: MAX_SECTORS });
    const allocator = new GuestAllocator(BASE, BYTES);
    const d = await BlockDriver.open(new InProcessConnector(bus, racing).open('blk2'), allocator);
    const buf = allocator.alloc(512);
    memory.write(buf, new Uint8Array(512).fill(0x5a));
    expect(await d.write(7, 1, buf)).toBe(512);
    expect(raced).toBe(1);
    // the header now says sector 0xffff0000, count 0xffff; the device used what it copied out
    expect(disk.bytes.subarray(7 * 512, 8 * 512).every((x) => x === 0x5a)).toBe(true);
    expect(bus.introspect().devices.find((x) => x.name === 'blk2')!.counters).toMatchObject({ writes: 1, refused: 0 });
  });

  it('a broken ring (the IOQ rules) fails this device with a RingError naming the ring; the other device goes on', async () => {
    const bus = newBus();
    const g = await hostileGuest(bus);
    // the guest moves the inuse head, which only the device may write
    const at = g.ring.ioq.address + IOQ_OFF_IDX_INUSE + IOQ_IDX_HEAD;
    g.memory.write(at, Uint8Array.of(40, 0, 0, 0));
    await g.run([{ type: BLOCK_T_READ, sector: 0, count: 1, data: g.data }]);
    const st = bus.status('blk0');
    expect(st.state).toBe('failed');
    expect(st.error?.message).toMatch(/blk0\.req/);
    expect(g.conn.closed).toBe(true);
    const other = await hostileGuest(bus, 'blk1');
    const [r] = await other.run([{ type: BLOCK_T_WRITE, sector: 0, count: 1, data: other.data }]);
    expect(r).toMatchObject({ status: BLOCK_S_OK, len: 512 });
  });

  it('property: any request header gets the status a model of the rules predicts, and the device never fails', async () => {
    const bus = newBus();
    const g = await hostileGuest(bus);
    const ringEnd = g.ring.ioq.address + g.ring.ioq.bytes.length;
    const field = (edges: number[]) => fc.oneof(fc.constantFrom(...edges), fc.nat({ max: 0xffff_ffff }));
    const arb = fc.record({
      type: fc.oneof(fc.constantFrom(BLOCK_T_READ, BLOCK_T_WRITE, BLOCK_T_FLUSH, BLOCK_T_DISCARD), fc.nat({ max: 0xffff_ffff })),
      flags: fc.constantFrom(0, 0, 0, 1, 0x8000_0000),
      sector: field([0, 1, SECTORS - 1, SECTORS, SECTORS + 1]),
      count: field([0, 1, MAX_SECTORS, MAX_SECTORS + 1, SECTORS]),
      data: fc.constantFrom(0, g.data, g.data + 100, g.headerAt(0) - 100, g.ring.ioq.address, BASE + BYTES - 512, 0x7fff_0000_0000),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (r) => {
        const [c] = await g.run([r]);
        const bytes = r.count * 512;
        const rangeOk = r.sector < SECTORS && r.count <= SECTORS - r.sector;
        const dataOk =
          g.memory.contains(r.data, bytes) && !(r.data < g.headerAt(0) + 32 && g.headerAt(0) < r.data + bytes) && !(r.data < ringEnd && g.ring.ioq.address < r.data + bytes);
        let want: number;
        if (r.flags !== 0) want = BLOCK_S_INVALID;
        else if (r.type === BLOCK_T_READ || r.type === BLOCK_T_WRITE) want = r.count >= 1 && r.count <= MAX_SECTORS && rangeOk && dataOk ? BLOCK_S_OK : BLOCK_S_INVALID;
        else if (r.type === BLOCK_T_FLUSH) want = r.count === 0 && r.data === 0 && r.sector === 0 ? BLOCK_S_OK : BLOCK_S_INVALID;
        else if (r.type === BLOCK_T_DISCARD) want = r.data === 0 && r.count >= 1 && rangeOk ? BLOCK_S_OK : BLOCK_S_INVALID;
        else want = BLOCK_S_UNSUPP;
        expect(c!.status).toBe(want);
        expect(c!.len).toBe(want === BLOCK_S_OK && (r.type === BLOCK_T_READ || r.type === BLOCK_T_WRITE) ? bytes : 0);
        expect(bus.status('blk0').state).toBe('ready');
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});
