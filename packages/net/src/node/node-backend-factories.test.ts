import { describe, expect, it } from 'vitest';
import { createVbus } from '@vbus/core';
import { NetBackendRegistry } from '../common/backend/backend-registry.js';
import { netModule } from '../net-module.js';
import { netNodeModule } from './net-node-module.js';
import { QemuDgramBackend } from './qemu-dgram-backend.js';
import { QemuStreamBackend } from './qemu-stream-backend.js';

describe('the Node backend kinds in the registry', () => {
  const registry = (): NetBackendRegistry => createVbus({ modules: [netModule, netNodeModule] }).container.get(NetBackendRegistry);

  it('lists the socket kinds beside the common ones', () => {
    expect(
      registry()
        .kinds()
        .map((k) => k.kind)
        .sort(),
    ).toEqual(['loopback', 'qemu-dgram', 'qemu-stream', 'switch', 'vde', 'vxlan']);
  });

  it('makes a qemu-dgram and a listening qemu-stream backend on loopback by name', async () => {
    const r = registry();
    const dgram = await r.create('qemu-dgram', { local: { host: '127.0.0.1', port: 0 } });
    const stream = await r.create('qemu-stream', { listen: { host: '127.0.0.1', port: 0 }, name: 'up' });
    try {
      expect(dgram).toBeInstanceOf(QemuDgramBackend);
      expect(stream).toBeInstanceOf(QemuStreamBackend);
    } finally {
      await dgram.close();
      await stream.close();
    }
  });

  it('qemu-stream takes exactly one of listen and connect', async () => {
    await expect(registry().create('qemu-stream', {})).rejects.toThrow(/exactly one of listen and connect/);
    await expect(registry().create('qemu-stream', { listen: { port: 0 }, connect: { port: 1 } })).rejects.toThrow(/exactly one/);
  });
});
