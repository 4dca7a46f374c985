import { describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import { RandomSource, Scheduler, VbusToken, VirtualTimeScheduler, createVbus } from '@vbus/core';
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
    expect(vbus.deviceClasses().map((c) => c.type).sort()).toEqual(['virtio-net', 'virtual-ethernet']);
  });

  it('an embedder rebinds the scheduler before the bus is made', () => {
    const container = new Container();
    const vts = new VirtualTimeScheduler();
    container.bind<Scheduler>(Scheduler).toConstantValue(vts);
    expect(createVbus({ container }).vbus.scheduler).toBe(vts);
  });

  it('a seeded RandomSource makes both NICs\' default MACs reproducible (and locally administered)', () => {
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
