import { describe, expect, it } from 'vitest';
import { Vbus } from './vbus.js';
import type { DeviceClass, DeviceContext } from './device.js';
import { VirtualTimeScheduler } from '../time/virtual-time-scheduler.js';
import { silentLogger } from '../log/logger.js';
import { standaloneDeviceContext } from './device-context.js';

/** A device class that hands its context out, so the test can arm timers as the device would. */
function probeClass(): { cls: DeviceClass<object>; contexts: DeviceContext[] } {
  const contexts: DeviceContext[] = [];
  const cls: DeviceClass<object> = {
    type: 'probe',
    version: 1,
    description: 'exposes its context',
    configKeys: [],
    validate: () => ({}),
    create: (_config, ctx) => {
      contexts.push(ctx);
      return { type: 'probe', attributes: () => ({}), counters: () => ({}), open: () => ({ call: () => new Uint8Array(0), shm: () => {}, close: () => {} }) };
    },
  };
  return { cls, contexts };
}

function setup() {
  const vts = new VirtualTimeScheduler();
  const { cls, contexts } = probeClass();
  const vbus = new Vbus([cls], vts, undefined, undefined, silentLogger);
  const bus = vbus.createBus('b');
  bus.createDevice('probe', 'p0');
  return { vts, bus, contexts };
}

describe("a device's timed defer (DeviceContext.after)", () => {
  it('runs after its delay of the bus clock, which the device reads with now()', () => {
    const { vts, contexts } = setup();
    const ctx = contexts[0]!;
    const seen: number[] = [];
    ctx.after(2.5, () => seen.push(ctx.now()));
    vts.runFor(2);
    expect(seen).toEqual([]);
    vts.runUntilIdle();
    expect(seen).toEqual([2.5]);
  });

  it('is cancelled when the device is removed, and when it is reset', () => {
    const { vts, bus, contexts } = setup();
    const ran: string[] = [];
    contexts[0]!.after(1, () => ran.push('before reset'));
    bus.resetDevice('p0');
    contexts[1]!.after(1, () => ran.push('before remove'));
    bus.removeDevice('p0');
    expect(vts.pending).toBe(0);
    vts.runUntilIdle();
    expect(ran).toEqual([]);
    // a removed device arms nothing more
    contexts[1]!.after(1, () => ran.push('after remove'));
    expect(vts.pending).toBe(0);
  });

  it('is cancelled when the device fails; a task that throws fails the device', () => {
    const { vts, bus, contexts } = setup();
    const ran: string[] = [];
    contexts[0]!.after(1, () => {
      throw new Error('timer bug');
    });
    contexts[0]!.after(2, () => ran.push('later'));
    vts.runUntilIdle();
    expect(bus.status('p0').state).toBe('failed');
    expect(bus.status('p0').error?.message).toMatch(/timer bug/);
    expect(ran).toEqual([]);
  });

  it('a cancel returned by after() cancels that task only', () => {
    const { vts, contexts } = setup();
    const ran: number[] = [];
    const cancel = contexts[0]!.after(1, () => ran.push(1));
    contexts[0]!.after(2, () => ran.push(2));
    cancel();
    vts.runUntilIdle();
    expect(ran).toEqual([2]);
  });
});

describe('standaloneDeviceContext', () => {
  it('closing it cancels its timers and drops deferred work; a failure is reported once', () => {
    const vts = new VirtualTimeScheduler();
    const failures: unknown[] = [];
    const ctx = standaloneDeviceContext({ name: 'alone', scheduler: vts, logger: silentLogger, fail: (e) => failures.push(e) });
    const ran: string[] = [];
    ctx.after(1, () => ran.push('timer'));
    ctx.defer(() => ran.push('deferred'));
    ctx.fail(new Error('one'));
    ctx.fail(new Error('two'));
    vts.runUntilIdle();
    expect(ran).toEqual([]);
    expect(failures).toHaveLength(1);
    const ctx2 = standaloneDeviceContext({ name: 'alone2', scheduler: vts });
    ctx2.after(1, () => ran.push('timer2'));
    ctx2.close();
    vts.runUntilIdle();
    expect(ran).toEqual([]);
  });
});
