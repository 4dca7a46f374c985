// docs/embedding.md, "Time and the scheduler": timed tasks on a VirtualTimeScheduler, and a device
// that keeps a timer through its DeviceContext. Type-checked and run by test/embedding-core-examples.test.ts.
import { ContainerModule } from 'inversify';
import { createVbus, DeviceClass, VirtualTimeScheduler, type Device, type DeviceContext } from '@vbus/core';

/** Tasks at times, a cancelled one, and the clock they read. */
export function schedulerExample(): string[] {
  // #region scheduler
  const vts = new VirtualTimeScheduler({ latencyNs: 500 }); // "soon" costs 0.5 µs of virtual time
  const log: string[] = [];
  vts.at(2, () => log.push(`at 2 ms: now() = ${vts.now()}`));
  vts.after(1, () => log.push(`after 1 ms: now() = ${vts.now()}`));
  const cancel = vts.after(1.5, () => log.push('never: cancelled'));
  vts.schedule(() => log.push(`soon: nowNs = ${vts.nowNs}`));
  cancel();
  vts.runFor(5); // runs what is due by now() + 5 ms, in time order, then sets the clock there
  // log: soon: nowNs = 500 / after 1 ms: now() = 1 / at 2 ms: now() = 2; vts.now() === 5
  // #endregion scheduler
  return [...log, `end ${vts.now()}`];
}

// #region device
/** A device that counts heartbeats every `periodMs` of the bus's clock while it is on the bus. */
class HeartbeatClass implements DeviceClass<{ periodMs: number }, { periodMs?: number }> {
  readonly type = 'heartbeat';
  readonly version = 1;
  readonly description = 'counts a beat every periodMs';
  readonly configKeys = ['periodMs'] as const;
  validate(c: unknown) {
    return { periodMs: (c as { periodMs?: number } | undefined)?.periodMs ?? 10 };
  }
  create(config: { periodMs: number }, ctx: DeviceContext): Device {
    let beats = 0;
    let last = ctx.now();
    const beat = (): void => {
      beats++;
      last = ctx.now();
      ctx.after(config.periodMs, beat); // cancelled for us when the device fails, is removed or reset
    };
    ctx.after(config.periodMs, beat);
    return {
      type: this.type,
      attributes: () => ({ periodMs: config.periodMs }),
      counters: () => ({ beats, lastMs: last }),
      open: () => ({ call: () => new Uint8Array(0), shm: () => {}, close: () => {} }),
    };
  }
}
// #endregion device

/** The heartbeat device in virtual time: beats while present, nothing after removal. */
export function deviceTimerExample(): { beats: unknown; pendingAfterRemove: number } {
  const heartbeatModule = new ContainerModule((o) => {
    o.bind<DeviceClass<unknown>>(DeviceClass).toConstantValue(new HeartbeatClass() as DeviceClass<unknown>);
  });
  // #region device-run
  const vts = new VirtualTimeScheduler();
  const { vbus } = createVbus({ modules: [heartbeatModule], scheduler: vts });
  const bus = vbus.createBus('b');
  bus.createDevice('heartbeat', 'hb0', { periodMs: 10 });
  vts.runFor(35);
  const beats = bus.introspect().devices[0]!.counters; // { beats: 3, lastMs: 30 }
  bus.removeDevice('hb0'); // its timer goes with it
  // #endregion device-run
  return { beats, pendingAfterRemove: vts.pending };
}
