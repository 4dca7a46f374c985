// docs/embedding.md, "Embedder-owned memory": a worker guest whose memory is the embedder's own
// SharedArrayBuffer, at guest addresses the embedder chose. Run by test/embedding-examples.test.ts.
import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { GuestResponder, LearningSwitch, parseMac } from '@vbus/net';
import { venetModule } from '@vbus/venet';

export async function embedderMemoryExample(): Promise<{ rttMs: number; ramTouched: boolean; kernelIntact: boolean }> {
  const { vbus } = createVbus({ modules: [venetModule] });
  const bus = vbus.createBus('emu');
  const sw = new LearningSwitch();
  bus.createDevice('virtual-ethernet', 'venet0', { backend: sw, mac: '52:54:00:00:00:02' });
  // a host on the switch to ping the guest from
  const host = new GuestResponder({ mac: parseMac('02:00:00:00:00:01'), ip: '192.0.2.1' });
  const port = sw.attach({ name: 'host', mac: host.mac }, host);
  host.setTransmit((frame) => port.deliver(frame));

  // #region spawn
  // the emulator's RAM, 32 MiB: its first 16 MiB hold what the emulator put there (a kernel)
  const ram = new SharedArrayBuffer(32 << 20);
  new Uint8Array(ram, 0, 16 << 20).fill(0x90);
  const connector = new WorkerConnector(bus);
  const guest = connector.spawn(new URL('./embedder-memory-guest.ts', import.meta.url), {
    memory: {
      // guest physical 0 = byte 0 of `ram` (one region at 0: a FlatMemory on both sides)
      regions: [{ address: 0, buffer: ram }],
      // the guest's driver allocates rings and buffers only in [16 MiB, 32 MiB)
      allocator: { address: 16 << 20, length: 16 << 20 },
    },
    workerData: { device: 'venet0', ip: '192.0.2.2' },
  });
  // #endregion spawn

  await new Promise((resolve) => guest.worker.once('message', resolve)); // the guest's NIC is up
  const reply = await host.ping('192.0.2.2', 56);
  guest.worker.postMessage('stop');
  await guest.exited;
  host.close();
  const bytes = new Uint8Array(ram);
  return {
    rttMs: reply.rttMs,
    ramTouched: bytes.subarray(16 << 20).some((b) => b !== 0),
    kernelIntact: bytes.subarray(0, 16 << 20).every((b) => b === 0x90),
  };
}
