// createDevice refuses config keys a device class does not declare (a typo is never silently
// ignored) and, with the plugin's DeviceConfigs entry, is typed per class at compile time.
import { describe, expect, it } from 'vitest';
import { ConfigError, Vbus, createVbus, checkConfigKeys } from '@vbus/core';
import { venetModule } from '@vbus/venet';
import { virtioNetModule } from '@vbus/virtio-compat';

function bus() {
  return createVbus({ modules: [venetModule, virtioNetModule] }).vbus.createBus('b');
}

describe('createDevice and unknown config keys', () => {
  it('venet: a misspelt key is a ConfigError naming the key, the class and the nearest known key', () => {
    const b = bus();
    let error: unknown;
    try {
      // @ts-expect-error: the compiler catches the typo too (VenetConfigInput has no txCompletEvery)
      b.createDevice('virtual-ethernet', 'v0', { txCompletEvery: 5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe('txCompletEvery');
    expect((error as Error).message).toMatch(/txCompletEvery.*device class "virtual-ethernet".*did you mean "txCompleteEvery"/);
    // nothing was created
    expect(b.devices()).toEqual([]);
  });

  it('virtio-net: an unknown key is refused, the declared ones are accepted', () => {
    const b = bus();
    // @ts-expect-error: VirtioNetConfigInput has no queuePair
    expect(() => b.createDevice('virtio-net', 'n0', { queuePair: 2 })).toThrow(/queuePair.*device class "virtio-net".*did you mean "queuePairs"/);
    expect(b.createDevice('virtio-net', 'n0', { queuePairs: 2, mtu: 9000, mac: '52:54:00:00:00:01' }).state).toBe('ready');
    expect(b.createDevice('virtual-ethernet', 'v0', { txCompleteEvery: 5, ringSize: 256 }).state).toBe('ready');
  });

  it('a plain-JavaScript device class without configKeys is refused when registered, naming the class', () => {
    const legacy = { type: 'no-keys', version: 1, description: 'declares no config keys', validate: () => ({}), create: () => ({}) };
    expect(() => new Vbus([legacy as never])).toThrow(/configKeys.*device class "no-keys" must list its config keys/);
  });

  it('a key with no near match lists the known keys', () => {
    expect(() => bus().createDevice('virtual-ethernet', 'v0', { colour: 'blue' } as never)).toThrow(
      /colour.*known: mac, mtu, ringSize, txCompleteEvery, burstThresholdUs, pollTurns, backend/,
    );
  });

  it('checkConfigKeys leaves a non-object to the class validator', () => {
    expect(() => checkConfigKeys(5, ['a'], 'x')).not.toThrow();
    expect(() => checkConfigKeys({ a: 1 }, ['a'], 'x')).not.toThrow();
    expect(() => checkConfigKeys({ b: 1 }, ['a'], 'x')).toThrow(ConfigError);
  });
});
