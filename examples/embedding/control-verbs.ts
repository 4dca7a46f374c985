// docs/embedding.md, "Driving control verbs in your loop": bring a NIC up inside the embedder's
// virtual time. Type-checked and run by test/embedding-core-examples.test.ts.
import { createVbus, GuestAllocator, RegionMemory, runUntilSettled, SimulatedConnector, VirtualTimeScheduler } from '@vbus/core';
import { LearningSwitch } from '@vbus/net';
import { venetModule, VenetDriver } from '@vbus/venet';

export async function controlVerbsExample(): Promise<{ upAtNs: number; linkUp: boolean; trace: string[]; stepped: number; loopLinkUp: boolean }> {
  // #region settle
  const vts = new VirtualTimeScheduler({ latencyNs: 1000 });
  const { vbus } = createVbus({ modules: [venetModule], scheduler: vts });
  const bus = vbus.createBus('sim');
  bus.createDevice('virtual-ethernet', 'venet0', { mac: '52:54:00:00:00:01', backend: new LearningSwitch({ scheduler: vts }) });
  const connector = new SimulatedConnector(bus, RegionMemory.create(0x10000, 4 << 20), vts);
  const conn = connector.open('venet0');

  // every call and shm of the driver's bring-up crosses in virtual time (1 µs each way)
  const nic = await runUntilSettled(vts, VenetDriver.open(conn, new GuestAllocator(0x10000, 4 << 20)), { maxSteps: 100_000 });
  const upAtNs = vts.nowNs; // how much virtual time the bring-up took
  // #endregion settle

  // #region own-loop
  // A simulator with a main loop of its own steps the same scheduler itself. The rule that keeps
  // virtual time exact: before moving the clock forward, let promise continuations run (one
  // macrotask), so a driver that awaited a verb continues at the time the verb completed.
  bus.createDevice('virtual-ethernet', 'venet1', { mac: '52:54:00:00:00:02' });
  const conn2 = new SimulatedConnector(bus, RegionMemory.create(0x10000, 4 << 20), vts, 'second').open('venet1');
  let second: VenetDriver | undefined;
  void VenetDriver.open(conn2, new GuestAllocator(0x10000, 4 << 20)).then((d) => (second = d));
  let stepped = 0;
  while (second === undefined) {
    const next = vts.next();
    if (next === undefined || next > vts.now()) await new Promise((r) => setImmediate(r)); // drain continuations
    if (second === undefined && vts.step()) stepped++; // ... the simulator's own work for this instant goes here
  }
  // #endregion own-loop
  return { upAtNs, linkUp: nic.linkUp, trace: connector.trace.filter((l) => !l.includes('slot')), stepped, loopLinkUp: second.linkUp };
}
