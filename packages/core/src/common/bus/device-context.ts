import type { Clock } from '../time/clock.js';
import type { Cancel, Scheduler } from '../time/scheduler.js';
import { ConsoleLogger, type Logger } from '../log/logger.js';
import type { DeviceContext } from './device.js';

const noCancel: Cancel = () => {};

/** What a device's context is made of: the bus's services and the device's own state. */
export interface DeviceContextParts {
  readonly name: string;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Fail the device (never throws). */
  fail(error: unknown): void;
  /** False once the device failed or left its bus: deferred and timed work is dropped. */
  live(): boolean;
}

/**
 * @internal The {@link DeviceContext} of one device. It keeps the device's timed tasks so the
 * owner cancels them all ({@link cancelTimers}) when the device fails or leaves its bus.
 */
export class DeviceContextImpl implements DeviceContext {
  readonly name: string;
  readonly logger: Logger;
  private readonly timers = new Set<Cancel>();

  constructor(private readonly parts: DeviceContextParts) {
    this.name = parts.name;
    this.logger = parts.logger;
  }

  // arrow properties: a device may pass these on detached (`const { defer } = ctx`)
  readonly fail = (error: unknown): void => {
    this.parts.fail(error);
  };

  readonly now = (): number => this.parts.clock.now();

  readonly defer = (fn: () => void): void => {
    this.parts.scheduler.schedule(() => this.run(fn));
  };

  readonly nextTurn = (fn: () => void): void => {
    const scheduler = this.parts.scheduler;
    const task = () => this.run(fn);
    if (scheduler.nextTurn) scheduler.nextTurn(task);
    else scheduler.schedule(task);
  };

  readonly after = (delayMs: number, fn: () => void): Cancel => {
    if (!this.parts.live()) return noCancel;
    const timers = this.timers;
    const cancel = this.parts.scheduler.after(delayMs, () => {
      timers.delete(cancel);
      this.run(fn);
    });
    timers.add(cancel);
    return () => {
      if (timers.delete(cancel)) cancel();
    };
  };

  /** Timed tasks armed and not yet run nor cancelled. */
  get armedTimers(): number {
    return this.timers.size;
  }

  /** Cancel every timed task the device armed. */
  cancelTimers(): void {
    for (const cancel of this.timers) cancel();
    this.timers.clear();
  }

  private run(fn: () => void): void {
    if (!this.parts.live()) return;
    try {
      fn();
    } catch (error) {
      this.parts.fail(error);
    }
  }
}

/** A {@link DeviceContext} for a device that lives outside a bus, with {@link close} to end it. */
export interface StandaloneDeviceContext extends DeviceContext {
  /** The device is gone: cancel its timers and drop its deferred work. */
  close(): void;
}

/**
 * A {@link DeviceContext} for a device used without a bus: a vhost-user back end that serves one
 * device to QEMU, a fuzz target, a unit test. `fail` defaults to logging the error (once) and
 * stopping the device's deferred and timed work; the clock defaults to the scheduler, the logger
 * to a {@link ConsoleLogger}.
 */
export function standaloneDeviceContext(options: { name: string; scheduler: Scheduler; logger?: Logger; clock?: Clock; fail?: (error: unknown) => void }): StandaloneDeviceContext {
  const logger = options.logger ?? new ConsoleLogger();
  let live = true;
  let failed = false;
  const ctx: DeviceContextImpl = new DeviceContextImpl({
    name: options.name,
    scheduler: options.scheduler,
    clock: options.clock ?? options.scheduler,
    logger,
    live: () => live && !failed,
    fail: (error) => {
      if (failed) return;
      failed = true;
      ctx.cancelTimers();
      if (options.fail) options.fail(error);
      else logger.error(`device ${options.name} failed: ${error instanceof Error ? error.message : String(error)}`, { device: options.name });
    },
  });
  return Object.assign(ctx, {
    close(): void {
      live = false;
      ctx.cancelTimers();
    },
  });
}
