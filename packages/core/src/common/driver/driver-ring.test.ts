import { describe, expect, it } from 'vitest';
import { ContainerModule } from 'inversify';
import {
  BusError,
  ConfigError,
  DeviceClass,
  GuestAllocator,
  InProcessConnector,
  IoqDeviceQueue,
  RegionMemory,
  createVbus,
  openDriverRing,
  type DeviceContext,
  type ShmRegistration,
} from '@vbus/core';

const BASE = 0x10000;
const BYTES = 1 << 20;

/**
 * A sink device: on a kick it masks its signal, completes every buffer with len = ptr & 0xff,
 * notifies once per drained pass, unmasks. `hold` keeps buffers (no completion) until released.
 */
function sinkModule(log: { kicks: number; passes: number; suppressed: number }, control: { hold: boolean; release?: () => void }) {
  class Sink implements DeviceClass<object> {
    readonly type = 'sink';
    readonly version = 1;
    readonly description = 'completes what it is given';
    readonly configKeys = [] as const;
    validate() {
      return {};
    }
    create(_c: object, ctx: DeviceContext) {
      return {
        type: 'sink',
        attributes: () => ({}),
        counters: () => ({}),
        open: () => ({
          call: () => new Uint8Array(0),
          close: () => {},
          shm: (reg: ShmRegistration) => {
            if (!reg.signal) throw new BusError('sink needs a signal');
            const signal = reg.signal;
            const q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, signal, `${ctx.name}.q${reg.id}`);
            const drain = () => {
              log.passes++;
              while (q.next()) q.complete(q.ptr & 0xff);
              if (!q.notify()) log.suppressed++;
            };
            control.release = () => {
              drain();
            };
            signal.handler = () => {
              log.kicks++;
              if (control.hold) return;
              signal.disable();
              drain();
              signal.enable();
            };
          },
        }),
      };
    }
  }
  return new ContainerModule((o) => {
    o.bind(DeviceClass).toConstantValue(new Sink());
  });
}

function rig(hold = false) {
  const log = { kicks: 0, passes: 0, suppressed: 0 };
  const control: { hold: boolean; release?: () => void } = { hold };
  const { vbus } = createVbus({ modules: [sinkModule(log, control)] });
  const bus = vbus.createBus('b');
  bus.createDevice('sink', 's0');
  const memory = RegionMemory.create(BASE, BYTES);
  const allocator = new GuestAllocator(BASE, BYTES);
  const conn = new InProcessConnector(bus, memory).open('s0');
  return { log, control, conn, allocator };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('openDriverRing', () => {
  it('opens a ring with its signal wired: a post kicks the device and the completion comes back', async () => {
    const { log, conn, allocator } = rig();
    const ring = await openDriverRing(conn, { id: 0, count: 8, allocator });
    const got: Array<[number, number]> = [];
    ring.onComplete = (cookie, len) => got.push([cookie, len]);
    expect(ring.name).toBe('s0.q0');
    expect(ring.post(BASE + 0x8042, 16, 7)).toBe(true);
    await turn();
    expect(log.kicks).toBe(1);
    expect(got).toEqual([[7, 0x42]]);
    expect(ring.outstanding).toBe(0);
    expect(ring.counters).toMatchObject({ posted: 1, completed: 1, kicks: 1, polls: 1 });
  });

  it('a burst posted with more costs one kick at flush; a flush with nothing new sends nothing', async () => {
    const { log, conn, allocator } = rig();
    const ring = await openDriverRing(conn, { id: 0, count: 64, allocator });
    let done = 0;
    ring.onComplete = () => done++;
    for (let i = 0; i < 50; i++) expect(ring.post(BASE + 0x9000, 64, i, true)).toBe(true);
    await turn();
    expect(log.kicks).toBe(0); // nothing announced yet
    expect(ring.flush()).toBe(true);
    expect(ring.flush()).toBe(false);
    await turn();
    expect(log.kicks).toBe(1);
    expect(done).toBe(50);
    expect(ring.signalCounters.injected).toBe(1);
  });

  it('polls completions in batches of pollWeight with the signal masked, and unmasks when drained', async () => {
    const { control, conn, allocator } = rig(true);
    const ring = await openDriverRing(conn, { id: 0, count: 32, allocator, pollWeight: 8 });
    const seen: number[] = [];
    let maskedDuringPoll = true;
    ring.onComplete = (cookie) => {
      seen.push(cookie);
      if (ring.signal.enabled) maskedDuringPoll = false;
    };
    for (let i = 0; i < 30; i++) ring.post(BASE + 0x9000, 64, i, true);
    ring.flush();
    await turn();
    control.release!(); // the device completes all 30 and signals once
    for (let i = 0; i < 10 && seen.length < 30; i++) await turn();
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(maskedDuringPoll).toBe(true);
    expect(ring.counters.polls).toBe(4); // 8 + 8 + 8 + 6
    expect(ring.signal.enabled).toBe(true);
    expect(ring.signal.counters.wakeups).toBe(1);
  });

  it('buffers re-posted with more from onComplete go out with one kick at the end of the poll', async () => {
    const { log, conn, allocator } = rig();
    const ring = await openDriverRing(conn, { id: 0, count: 16, allocator });
    let completions = 0;
    ring.onComplete = (cookie) => {
      if (++completions < 40) ring.post(BASE + 0x9000, 64, cookie, true);
    };
    let pollEnds = 0;
    ring.onPollEnd = () => {
      pollEnds++;
      ring.flush();
    };
    for (let i = 0; i < 8; i++) ring.post(BASE + 0x9000, 64, i, i < 7);
    for (let i = 0; i < 20 && completions < 47; i++) await turn();
    expect(completions).toBe(47); // 8 first, 39 re-posted
    expect(pollEnds).toBe(ring.counters.polls);
    // one kick per poll, not one per re-posted buffer
    expect(ring.counters.kicks).toBeLessThanOrEqual(1 + ring.counters.polls);
    expect(log.kicks).toBeLessThan(20);
  });

  it('buffers posted with more reach the device with their batch: at flush, publish, a post without more, the 32nd post, or the end of the poll that re-posted them', async () => {
    const { control, conn, allocator } = rig(true);
    const ring = await openDriverRing(conn, { id: 0, count: 64, allocator });
    const back: number[] = [];
    ring.onComplete = (cookie) => back.push(cookie);
    // the held device completes, on release, what it can see (what was published)
    const seen = async () => {
      const before = back.length;
      control.release!();
      for (let i = 0; i < 5; i++) await turn();
      return back.length - before;
    };
    for (let i = 0; i < 3; i++) ring.post(BASE + 0x9000, 64, i, true);
    expect(await seen()).toBe(0); // posted with more: not published yet
    ring.publish();
    expect(await seen()).toBe(3);
    for (let i = 3; i < 6; i++) ring.post(BASE + 0x9000, 64, i, true);
    ring.flush();
    expect(await seen()).toBe(3);
    for (let i = 6; i < 9; i++) ring.post(BASE + 0x9000, 64, i, i < 8);
    expect(await seen()).toBe(3); // the batch's last post, without more
    for (let i = 9; i < 9 + 40; i++) ring.post(BASE + 0x9000, 64, i, true);
    expect(await seen()).toBe(32); // the 32nd post publishes its batch; 8 wait
    ring.flush();
    expect(await seen()).toBe(8);
    // refills posted with more from onComplete are published when the poll ends
    let refills = 0;
    ring.onComplete = (cookie) => {
      back.push(cookie);
      if (refills < 5) {
        refills++;
        ring.post(BASE + 0x9000, 64, 100 + cookie, true);
      }
    };
    ring.post(BASE + 0x9000, 64, 1000, false);
    expect(await seen()).toBe(1); // the poll of its completion re-posted one buffer...
    expect(await seen()).toBe(1); // ...which the device sees at once: the poll's end published it
    expect(back.slice(-2)).toEqual([1000, 1100]);
  });

  it('without onComplete, signals only count and reclaim reaps', async () => {
    const { conn, allocator } = rig();
    const ring = await openDriverRing(conn, { id: 1, count: 4, allocator });
    for (let i = 0; i < 4; i++) ring.post(BASE + 0x9000 + i, 8, i, i < 3);
    expect(ring.canPost).toBe(false);
    expect(ring.post(BASE, 8, 9)).toBe(false);
    await turn();
    expect(ring.hasCompleted).toBe(true);
    const got: number[] = [];
    expect(ring.reclaim((c, len) => got.push(c * 1000 + len))).toBe(4);
    expect(got).toEqual([0, 1001, 2002, 3003]);
    expect(ring.counters.completed).toBe(4);
  });

  it('with pollTurns, a drained ring stays masked and reaps what the device completes meanwhile without a signal, then unmasks', async () => {
    const { log, control, conn, allocator } = rig(true);
    // enough turns (this connector's are scheduler tasks) that the poller is still at it below
    const turns = 1000;
    const microtasks = async (n: number) => {
      for (let i = 0; i < n; i++) await Promise.resolve();
    };
    const ring = await openDriverRing(conn, { id: 0, count: 8, allocator, pollTurns: turns });
    const got: number[] = [];
    ring.onComplete = (cookie) => got.push(cookie);
    ring.post(BASE + 0x9001, 8, 1);
    await turn();
    control.release!(); // completes buffer 1 and signals: the poll reaps it, then polls turns masked
    await microtasks(5);
    expect(got).toEqual([1]);
    expect(ring.signal.enabled).toBe(false);
    ring.post(BASE + 0x9002, 8, 2);
    control.release!(); // completes buffer 2: its signal finds the driver masked
    expect(log.suppressed).toBe(1);
    expect(got).toEqual([1]);
    // the poller's turns (this connection's defer, the scheduler's) reap it, then run out
    for (let i = 0; i < 100 && !ring.signal.enabled; i++) await turn();
    expect(got).toEqual([1, 2]);
    expect(ring.signal.counters.wakeups).toBeLessThanOrEqual(2); // the first signal, and the unmask's re-check (no signal crossed)
    expect(ring.counters.polls).toBeGreaterThanOrEqual(2);
    expect(ring.signal.enabled).toBe(true); // unmasked after `turns` empty turns
    // idle again: the next completion signals at once, as with pollTurns 0
    ring.post(BASE + 0x9003, 8, 3);
    await turn();
    control.release!();
    expect(log.suppressed).toBe(1); // this one crossed
    await microtasks(5);
    expect(got).toEqual([1, 2, 3]);
  });

  it('refuses a pollTurns outside [0, 1024]', async () => {
    const { conn, allocator } = rig();
    for (const pollTurns of [-1, 1.5, 1025]) await expect(openDriverRing(conn, { id: 0, count: 8, allocator, pollTurns })).rejects.toThrow(/pollTurns/);
  });

  it('refuses a bad count, weight or placement before touching guest memory', async () => {
    const { conn, allocator } = rig();
    await expect(openDriverRing(conn, { id: 0, count: 0, allocator })).rejects.toThrow(ConfigError);
    await expect(openDriverRing(conn, { id: 0, count: 8, allocator, pollWeight: 0 })).rejects.toThrow(/pollWeight/);
    await expect(openDriverRing(conn, { id: 0, count: 8 })).rejects.toThrow(/exactly one of address and allocator/);
    await expect(openDriverRing(conn, { id: 0, count: 8, allocator, address: BASE })).rejects.toThrow(/exactly one/);
  });

  it('a ring at a caller-chosen address works the same', async () => {
    const { conn } = rig();
    const ring = await openDriverRing(conn, { id: 0, count: 4, address: BASE + 0x4000, name: 'mine' });
    expect(ring.ioq.address).toBe(BASE + 0x4000);
    expect(ring.name).toBe('mine');
  });
});
