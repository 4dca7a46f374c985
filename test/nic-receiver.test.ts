// A guest NIC consumes no frame before its receiver is attached: frames that arrive between the
// driver's open and the caller setting onFrame wait in the rx ring and are all handed over once it
// is set. (Found by the soak under load: a restarted guest lost the frames that reached it in
// that window to the driver's default no-op handler, and the soak counted them as lost.)
import { describe, expect, it } from 'vitest';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory } from '@vbus/core';
import { LearningSwitch, type GuestNic } from '@vbus/net';
import { venetModule, VenetDriver } from '@vbus/venet';
import { VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';

const NIC_MAC = '52:54:00:77:00:01';
const PEER_MAC = Uint8Array.of(0x52, 0x54, 0, 0x77, 0, 2);
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('guest NICs: frames before the receiver is attached', () => {
  for (const kind of ['venet', 'virtio-net'] as const) {
    it(`${kind}: frames that arrive before onFrame is set wait in the ring and all reach the handler`, async () => {
      const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
      const bus = vbus.createBus('early');
      const sw = new LearningSwitch({ name: 'early' });
      bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic', { mac: NIC_MAC, backend: sw });
      const peer = sw.attach({ name: 'peer', mac: PEER_MAC }, { deliver: () => true });
      const conn = new InProcessConnector(bus, RegionMemory.create(0x10000, 8 << 20)).open('nic');
      const alloc = new GuestAllocator(0x10000, 8 << 20);
      const nic: GuestNic = kind === 'venet' ? await VenetDriver.open(conn, alloc) : await VirtioNetDriver.open(conn, alloc);
      try {
        const frame = new Uint8Array(100);
        frame.set(nic.mac, 0);
        frame.set(PEER_MAC, 6);
        frame[12] = 0x88;
        frame[13] = 0xb5;
        const N = 20;
        for (let i = 0; i < N; i++) {
          frame[14] = i;
          expect(peer.deliver(frame), `frame ${i} accepted by the device`).toBe(true);
        }
        await turns(20); // interrupts, deferred polls: everything the driver would do meanwhile
        expect(nic.stats().rxFrames, 'nothing consumed without a receiver').toBe(0);
        const got: number[] = [];
        nic.onFrame = (f) => {
          got.push(f[14]!);
        };
        await turns(20);
        expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
        // and later frames flow as usual
        frame[14] = 99;
        expect(peer.deliver(frame)).toBe(true);
        await turns(20);
        expect(got.at(-1)).toBe(99);
      } finally {
        await conn.close();
        await sw.close();
      }
    });
  }
});
