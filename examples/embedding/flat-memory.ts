// docs/embedding.md, "Embedder-owned memory": an emulator's RAM as the guest memory of a device
// and its driver, in one thread. Type-checked and run by test/embedding-examples.test.ts.
import { FlatMemory, GuestAllocator, InProcessConnector, createVbus } from '@vbus/core';
import { echoModule, runEchoScenario } from '@vbus/core/reference/echo';

export async function flatMemoryExample(): Promise<{ received: number; intact: boolean }> {
  const { vbus } = createVbus({ modules: [echoModule] });
  const bus = vbus.createBus('emu');
  bus.createDevice('vbus-echo', 'echo0', {});
  // #region flat
  // the emulator's RAM: guest physical address = offset into this buffer
  const ram = new SharedArrayBuffer(64 << 20);
  const memory = new FlatMemory(ram);
  // the driver's rings and buffers go where the emulator allows: here [48 MiB, 64 MiB)
  const allocator = new GuestAllocator(48 << 20, 16 << 20);
  const conn = new InProcessConnector(bus, memory).open('echo0');
  // #endregion flat
  const r = await runEchoScenario(conn, allocator, { burst: 32, bursts: 4, size: 128 });
  return { received: r.received, intact: r.intact };
}
