import { describe, expect, it } from 'vitest';
import { ContainerModule } from 'inversify';
import { RandomSource, VirtualTimeScheduler, createVbus } from '@vbus/core';
import { NetBackendFactory, NetBackendRegistry } from './backend-registry.js';
import type { FrameSink, NetBackend, NetBackendPort, NicInfo } from './net-backend.js';
import { BackendPort } from './port.js';
import { LearningSwitch } from './learning-switch.js';
import { netModule } from '../../net-module.js';

/** A plugin's backend kind: a sink that swallows every frame and counts it (and draws a tag from the container's random source). */
class BlackHole implements NetBackend {
  readonly kind = 'black-hole';
  swallowed = 0;
  constructor(readonly tag: number) {}
  attach(nic: NicInfo, _toNic: FrameSink): NetBackendPort {
    return new BackendPort(nic.name, () => {
      this.swallowed++;
      return true;
    });
  }
  async close(): Promise<void> {}
}

const blackHoleModule = new ContainerModule((o) => {
  const factory: NetBackendFactory<{ label?: string }> = {
    kind: 'black-hole',
    description: 'swallows every frame',
    optionKeys: ['label'],
    create: (_options, services) => {
      const b = new Uint8Array(1);
      services.random(b);
      return new BlackHole(b[0]!);
    },
  };
  o.bind<NetBackendFactory<object>>(NetBackendFactory).toConstantValue(factory as NetBackendFactory<object>);
});

const frame = (dst: number, src: number): Uint8Array => {
  const f = new Uint8Array(60);
  f.set([0x52, 0x54, 0, 0, 0, dst], 0);
  f.set([0x52, 0x54, 0, 0, 0, src], 6);
  return f;
};

describe('the net backend registry', () => {
  it("a plugin module adds a backend kind, made by name with the container's services", async () => {
    const fixed: RandomSource = (into) => into.fill(7);
    const { container } = createVbus({ modules: [netModule, blackHoleModule] });
    container.rebind<RandomSource>(RandomSource).toConstantValue(fixed);
    const registry = container.get(NetBackendRegistry);
    expect(
      registry
        .kinds()
        .map((k) => k.kind)
        .sort(),
    ).toEqual(['black-hole', 'loopback', 'switch']);
    const hole = (await registry.create('black-hole', { label: 'x' })) as BlackHole;
    expect(hole).toBeInstanceOf(BlackHole);
    expect(hole.tag).toBe(7);
    const port = hole.attach({ name: 'n', mac: new Uint8Array(6) }, { deliver: () => true });
    port.deliver(frame(1, 2));
    expect(hole.swallowed).toBe(1);
    expect(container.get(NetBackendRegistry)).toBe(registry);
  });

  it('refuses an unknown kind and an unknown option key, naming them', async () => {
    const { container } = createVbus({ modules: [netModule] });
    const registry = container.get(NetBackendRegistry);
    await expect(registry.create('swich')).rejects.toThrow(/swich.*known: switch, loopback/);
    await expect(registry.create('switch', { agMs: 10 })).rejects.toThrow(/agMs.*net backend kind "switch".*did you mean "ageMs"/);
  });

  it("a switch made by the registry ages its MAC table by the container's clock (virtual time)", async () => {
    const vts = new VirtualTimeScheduler();
    const { container } = createVbus({ modules: [netModule], scheduler: vts });
    const sw = (await container.get(NetBackendRegistry).create('switch', { ageMs: 1000 })) as LearningSwitch;
    const a = sw.attach({ name: 'a', mac: new Uint8Array([0x52, 0x54, 0, 0, 0, 1]) }, { deliver: () => true });
    sw.attach({ name: 'b', mac: new Uint8Array([0x52, 0x54, 0, 0, 0, 2]) }, { deliver: () => true });
    a.deliver(frame(2, 1));
    expect(sw.entries().map((e) => e.port)).toEqual(['a']);
    vts.runFor(999);
    expect(sw.entries()).toHaveLength(1);
    vts.runFor(2);
    a.deliver(frame(0xff, 3)); // any frame lets the switch notice the old entry has aged out
    expect(sw.entries().some((e) => e.port === 'a' && e.mac.endsWith(':01'))).toBe(false);
  });

  it('two plugins binding the same kind is an error when the registry is made', () => {
    const { container } = createVbus({ modules: [netModule, blackHoleModule, blackHoleModule] });
    expect(() => container.get(NetBackendRegistry)).toThrow(/black-hole.*bound twice/);
  });
});
