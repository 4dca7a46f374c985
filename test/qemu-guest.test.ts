// A real Linux VM under QEMU (TCG) with a virtio-net NIC joins a vbus Ethernet segment through
// QEMU's -netdev stream and -netdev dgram, and pings a TypeScript guest on a venet NIC (and is pinged).
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { venetModule, VenetDriver } from '@vbus/venet';
import { connectBackends, GuestResponder, LearningSwitch, type NetBackend, attachPeer } from '@vbus/net';
import { VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';
import { QemuDgramBackend, QemuStreamBackend } from '@vbus/net/node';
import { bootLinuxVm, type BootedVm } from './qemu/boot.js';

const VM_IP = '192.0.2.2';
const OUR_IP = '192.0.2.1';

/** A TypeScript guest with the responder on a venet or virtio-net NIC, its backend a switch cabled to `backend`. */
async function venetGuestOn(backend: NetBackend, kind: 'venet' | 'virtio-net' = 'venet') {
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('qemu');
  const sw = new LearningSwitch();
  const cable = connectBackends(sw, backend, { name: 'qemu' });
  bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic0', { mac: '52:54:00:00:00:01', backend: sw });
  const mem = RegionMemory.create(0x10000, 8 << 20);
  const conn = new InProcessConnector(bus, mem).open('nic0');
  const allocator = new GuestAllocator(0x10000, 8 << 20);
  const responder = new GuestResponder({ mac: new Uint8Array([0x52, 0x54, 0, 0, 0, 1]), ip: OUR_IP, timeoutMs: 20_000 });
  if (kind === 'venet') attachPeer(await VenetDriver.open(conn, allocator), responder);
  else {
    const nic = await VirtioNetDriver.open(conn, allocator);
    responder.setTransmit((f) => nic.send(f));
    nic.onFrame = (f) => {
      responder.receive(f);
    };
  }
  return {
    bus,
    sw,
    responder,
    cable,
    close: async () => {
      await conn.close();
      await sw.close();
    },
  };
}

function bootVm(netdev: string, script: string): BootedVm {
  return bootLinuxVm(`${VM_IP}/24`, script, netdev, 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02');
}

async function until(cond: () => boolean, ms: number, what: string, log: () => string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; VM console:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a real Linux VM (QEMU, virtio-net) on a vbus segment', { timeout: 240_000 }, () => {
  it.each(['venet', 'virtio-net'] as const)('-netdev stream: the VM pings a %s guest and the guest pings the VM', async (kind) => {
    const backend = await QemuStreamBackend.listen({ host: '127.0.0.1', port: 0 });
    const addr = backend.address() as { host: string; port: number };
    const g = await venetGuestOn(backend, kind);
    // the VM waits for our ping (it shows up in its ARP table) before it powers off
    const vm = bootVm(`stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${addr.port}`, `ping -c 3 -W 5 ${OUR_IP}\nsleep 4`);
    try {
      await until(() => vm.output().includes('VBUS-GUEST-UP'), 90_000, 'the VM to boot', vm.output);
      await until(() => /3 packets received/.test(vm.output()), 30_000, "the VM's pings", vm.output);
      const reply = await g.responder.ping(VM_IP, 200);
      expect(reply.from).toBe(VM_IP);
      expect(reply.size).toBe(200);
      expect(await vm.exited).toBe(0);
      expect(vm.output()).toMatch(/3 packets transmitted, 3 packets received/);
    } finally {
      vm.kill();
      await g.close();
      await backend.close();
    }
  });

  it('-netdev dgram: one frame per UDP datagram, ping both ways', async () => {
    const backend = await QemuDgramBackend.open({ local: { host: '127.0.0.1', port: 0 } });
    const local = backend.address().port;
    const g = await venetGuestOn(backend);
    const vm = bootVm(
      `dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=0,remote.type=inet,remote.host=127.0.0.1,remote.port=${local}`,
      `ping -c 3 -W 5 ${OUR_IP}\nsleep 4`,
    );
    try {
      await until(() => /3 packets received/.test(vm.output()), 120_000, "the VM's pings", vm.output);
      const reply = await g.responder.ping(VM_IP, 100);
      expect(reply.from).toBe(VM_IP);
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
      await g.close();
      await backend.close();
    }
  });
});
