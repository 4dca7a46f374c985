// Exception safety of failure paths (issue 10): a device and a guest that throw at every step.
// DeviceContext.fail is documented "never throws": whatever the device's close handler, the
// connector's close notice (which rings a doorbell the guest supplied) or a signal handler
// throws, fail, close, reset and signal dispatch return normally, `device-failed` is emitted
// exactly once, every connection of the failed device is closed, and other devices go on.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BusError,
  RegionMemory,
  ShmSignal,
  Side,
  Vbus,
  type Bus,
  type Device,
  type DeviceClass,
  type DeviceConnectionHandler,
  type DeviceContext,
  type GuestAttachment,
  type HostConnection,
  type ShmRegistration,
} from '@vbus/core';

const BASE = 0x10000;

/** Where the device throws. */
interface Traps {
  close: boolean;
  call: boolean;
  release: boolean;
  /** the signal handler throws */
  signal: boolean;
  /** the signal handler signals the guest (its doorbell may throw) before anything else */
  signalGuest: boolean;
}

class ThrowerClass implements DeviceClass<Traps, Partial<Traps>> {
  readonly type = 'thrower';
  readonly version = 1;
  readonly description = 'throws wherever it is told to';
  readonly configKeys = ['close', 'call', 'release', 'signal', 'signalGuest'] as const satisfies ReadonlyArray<keyof Traps>;
  contexts: DeviceContext[] = [];
  validate(c: unknown): Traps {
    return c as Traps;
  }
  create(traps: Traps, context: DeviceContext): Device {
    this.contexts.push(context);
    return {
      type: this.type,
      attributes: () => ({}),
      counters: () => ({}),
      release: () => {
        if (traps.release) throw new Error('release threw');
      },
      open: (): DeviceConnectionHandler => {
        let reg: ShmRegistration | undefined;
        return {
          call: () => {
            if (traps.call) throw new Error('call threw');
            return new Uint8Array(0);
          },
          shm: (r) => {
            reg = r;
            if (r.signal)
              r.signal.handler = () => {
                if (traps.signalGuest) reg!.signal!.inject();
                if (traps.signal) throw new Error('signal handler threw');
              };
          },
          close: () => {
            // a config-change style notice to the guest while closing, through its doorbell
            reg?.signal?.inject();
            if (traps.close) throw new Error('close handler threw');
          },
        };
      },
    };
  }
}

/** A guest attachment whose doorbell and close notice throw (a guest-supplied doorbell that cannot be rung). */
function throwingGuest(memory: RegionMemory): GuestAttachment & { notices: number } {
  const a = {
    guest: 'evil',
    memory,
    notices: 0,
    toGuest: {
      ring: () => {
        throw new RangeError('doorbell cannot be rung');
      },
    },
    onClosed: () => {
      a.notices++;
      throw new TypeError('close notice threw');
    },
  };
  return a;
}

function politeGuest(memory: RegionMemory): GuestAttachment & { closed: string[] } {
  const closed: string[] = [];
  return { guest: 'polite', memory, closed, toGuest: { ring: () => {} }, onClosed: (r) => closed.push(r) };
}

/** Register a region with a signal; returns the slot and a guest (north) endpoint that marks it. */
function withSignal(conn: HostConnection, memory: RegionMemory, at: number): number {
  ShmSignal.format(ShmSignal.cellsAt(memory, at));
  const slot = conn.shm(1, at, 64, at);
  // the guest's kick: marks the host endpoint dirty and pending, as a doorbell ring would precede
  new ShmSignal(ShmSignal.cellsAt(memory, at), Side.North, () => {}).inject();
  return slot;
}

const ALL: Traps = { close: true, call: true, release: true, signal: true, signalGuest: true };

describe('failure paths never throw, always report', () => {
  let cls: ThrowerClass;
  let bus: Bus;
  let failed: string[];
  let escaped: unknown[];
  const trap = (e: unknown) => escaped.push(e);
  beforeEach(() => {
    cls = new ThrowerClass();
    bus = new Vbus([cls]).createBus('b');
    failed = [];
    escaped = [];
    bus.on('device-failed', (d, e) => failed.push(`${d.name}: ${e.message}`));
    process.on('uncaughtException', trap);
    process.on('unhandledRejection', trap);
  });
  afterEach(() => {
    process.off('uncaughtException', trap);
    process.off('unhandledRejection', trap);
  });
  const turn = () => new Promise((r) => setImmediate(r));

  it('a throwing signal handler on a guest whose doorbell and close notice throw: dispatch returns, the device fails once, the bystander on the same device is closed and told, another device goes on', async () => {
    bus.createDevice('thrower', 'bad', ALL);
    bus.createDevice('thrower', 'good', { close: false, call: false, release: false, signal: false, signalGuest: false });
    const memA = RegionMemory.create(BASE, 1 << 16);
    const memB = RegionMemory.create(BASE, 1 << 16);
    const evilGuest = throwingGuest(memA);
    const evil = bus.connect('bad', evilGuest);
    const slot = withSignal(evil, memA, BASE);
    const bystanderGuest = politeGuest(memB);
    const bystander = bus.connect('bad', bystanderGuest);
    const otherGuest = politeGuest(RegionMemory.create(BASE, 1 << 16));
    const other = bus.connect('good', otherGuest);

    expect(() => evil.router.dispatch(slot)).not.toThrow();
    await turn();
    expect(bus.status('bad').state).toBe('failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/^bad: /);
    expect(evil.isOpen).toBe(false);
    expect(evilGuest.notices).toBe(1);
    expect(bystander.isOpen).toBe(false);
    expect(bystanderGuest.closed).toEqual([expect.stringMatching(/device failed/)]);
    expect(other.isOpen).toBe(true);
    expect(await other.call(0, new Uint8Array(1))).toBeInstanceOf(Uint8Array);
    expect(bus.status('good').state).toBe('ready');
    expect(escaped).toEqual([]);
  });

  it('DeviceContext.fail with a close handler and close notice that throw: returns, emits device-failed, closes every connection', async () => {
    bus.createDevice('thrower', 'bad', ALL);
    const mem = RegionMemory.create(BASE, 1 << 16);
    const guests = [throwingGuest(mem), throwingGuest(mem), throwingGuest(mem)];
    const conns = guests.map((g) => bus.connect('bad', g));
    withSignal(conns[1]!, mem, BASE);
    expect(() => cls.contexts[0]!.fail(new Error('boom'))).not.toThrow();
    expect(conns.map((c) => c.isOpen)).toEqual([false, false, false]);
    expect(guests.map((g) => g.notices)).toEqual([1, 1, 1]);
    expect(failed).toEqual(['bad: device bad failed: boom']);
    // failing again is a no-op, also for a value that cannot even be printed
    const unprintable = {
      toString: () => {
        throw new Error('no');
      },
    };
    expect(() => cls.contexts[0]!.fail(unprintable)).not.toThrow();
    expect(failed).toHaveLength(1);
    await turn();
    expect(escaped).toEqual([]);
  });

  it('a device that throws from close and release, reset with a guest whose doorbell throws: reset returns a fresh ready device', async () => {
    bus.createDevice('thrower', 'bad', ALL);
    const mem = RegionMemory.create(BASE, 1 << 16);
    const g = throwingGuest(mem);
    const conn = bus.connect('bad', g);
    withSignal(conn, mem, BASE);
    expect(() => bus.resetDevice('bad')).not.toThrow();
    expect(conn.isOpen).toBe(false);
    expect(bus.status('bad').state).toBe('ready');
    const again = bus.connect('bad', politeGuest(RegionMemory.create(BASE, 1 << 16)));
    expect(again.isOpen).toBe(true);
    await turn();
    expect(escaped).toEqual([]);
  });

  it('a guest closing a connection whose device close handler throws: close returns, the device is failed with the handler error', async () => {
    bus.createDevice('thrower', 'bad', ALL);
    const mem = RegionMemory.create(BASE, 1 << 16);
    const a = bus.connect('bad', throwingGuest(mem));
    const b = bus.connect('bad', throwingGuest(mem));
    withSignal(a, mem, BASE);
    expect(() => a.close()).not.toThrow();
    expect(bus.status('bad').state).toBe('failed');
    expect(bus.status('bad').error).toBeInstanceOf(BusError);
    // the first throw of the close path wins: the notice to the guest's doorbell, or the handler's own
    expect(bus.status('bad').error!.message).toMatch(/doorbell cannot be rung|close handler threw/);
    expect(b.isOpen).toBe(false);
    expect(failed).toHaveLength(1);
    await turn();
    expect(escaped).toEqual([]);
  });

  it('a deferred pass that throws fails only its device, even when failing throws underneath', async () => {
    bus.createDevice('thrower', 'bad', ALL);
    const mem = RegionMemory.create(BASE, 1 << 16);
    const conn = bus.connect('bad', throwingGuest(mem));
    withSignal(conn, mem, BASE);
    cls.contexts[0]!.defer(() => {
      throw new Error('pass threw');
    });
    await turn();
    expect(bus.status('bad').state).toBe('failed');
    expect(failed).toEqual(['bad: device bad failed: pass threw']);
    expect(escaped).toEqual([]);
  });
});
