import { describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import { Clock, ConsoleLogger, Logger, RandomSource, Scheduler, VbusToken, VirtualTimeScheduler, createVbus, silentLogger, type LogFields } from '@vbus/core';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';

/** A seeded source: the same seed gives the same bytes. */
function seeded(seed: number): RandomSource {
  let x = seed;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      into[i] = x >>> 24;
    }
  };
}

/** Default MACs of a venet and a virtio-net device made in a container whose RandomSource is seeded. */
function defaultMacs(seed: number): unknown[] {
  const container = new Container();
  container.bind<RandomSource>(RandomSource).toConstantValue(seeded(seed));
  const { vbus } = createVbus({ container, modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('b');
  bus.createDevice('virtual-ethernet', 'venet0', {});
  bus.createDevice('virtio-net', 'vnet0', {});
  return bus.introspect().devices.map((d) => d.attributes.mac);
}

describe('the container builds the bus and its services', () => {
  it('Vbus is made by the container from every bound device class, once', () => {
    const { vbus, container } = createVbus({ modules: [venetModule, virtioNetModule] });
    expect(container.get(VbusToken)).toBe(vbus);
    expect(
      vbus
        .deviceClasses()
        .map((c) => c.type)
        .sort(),
    ).toEqual(['virtio-net', 'virtual-ethernet']);
  });

  it('an embedder rebinds the scheduler before the bus is made', () => {
    const container = new Container();
    const vts = new VirtualTimeScheduler();
    container.bind<Scheduler>(Scheduler).toConstantValue(vts);
    expect(createVbus({ container }).vbus.scheduler).toBe(vts);
  });

  it('the Clock is the scheduler the embedder gave, unless it bound a Clock of its own', () => {
    const vts = new VirtualTimeScheduler();
    const { vbus, container } = createVbus({ scheduler: vts });
    expect(container.get(Clock)).toBe(vts);
    expect(vbus.clock).toBe(vts);
    vts.runFor(3);
    expect(vbus.createBus('b').clock.now()).toBe(3);

    const own = new Container();
    const fixed: Clock = { now: () => 42 };
    own.bind<Clock>(Clock).toConstantValue(fixed);
    const second = createVbus({ container: own, scheduler: new VirtualTimeScheduler() });
    expect(second.vbus.clock).toBe(fixed);
    expect(second.vbus.createBus('b').clock.now()).toBe(42);
  });

  it('binds a console logger that writes warnings and errors only; an embedder rebinds it', () => {
    const { vbus } = createVbus();
    expect(vbus.logger).toBeInstanceOf(ConsoleLogger);
    expect((vbus.logger as ConsoleLogger).level).toBe('warn');
    const lines: Array<[string, string, LogFields | undefined]> = [];
    const logger = new ConsoleLogger({
      console: {
        debug: (m: string, f?: LogFields) => lines.push(['debug', m, f]),
        info: (m: string, f?: LogFields) => lines.push(['info', m, f]),
        warn: (m: string, f?: LogFields) => lines.push(['warn', m, f]),
        error: (m: string, f?: LogFields) => lines.push(['error', m, f]),
      },
    });
    logger.debug('hidden');
    logger.info('hidden');
    logger.warn('shown', { device: 'venet0' });
    logger.error('shown too');
    expect(lines).toEqual([
      ['warn', '[vbus] shown', { device: 'venet0' }],
      ['error', '[vbus] shown too', undefined],
    ]);
    const container = new Container();
    container.bind<Logger>(Logger).toConstantValue(silentLogger);
    expect(createVbus({ container }).vbus.logger).toBe(silentLogger);
  });

  it("a seeded RandomSource makes both NICs' default MACs reproducible (and locally administered)", () => {
    const a = defaultMacs(42);
    expect(defaultMacs(42)).toEqual(a);
    expect(defaultMacs(43)).not.toEqual(a);
    for (const mac of a) expect(parseInt(String(mac).slice(0, 2), 16) & 0x03).toBe(0x02);
  });
});

describe('the Node module', () => {
  it('binds the worker connector factory', async () => {
    const { nodeModule, WorkerConnectorFactory, WorkerConnector } = await import('@vbus/core/node');
    const { vbus, container } = createVbus({ modules: [nodeModule] });
    const make = container.get<(bus: ReturnType<typeof vbus.createBus>) => InstanceType<typeof WorkerConnector>>(WorkerConnectorFactory);
    expect(make(vbus.createBus('w'))).toBeInstanceOf(WorkerConnector);
  });
});
