// The embedding guide's sections on time, services, control verbs (docs/embedding.md): their
// snippets are regions of examples/embedding/{time,services,control-verbs}.ts, type-checked with
// the project and run here; test/embedding-examples.test.ts checks the guide quotes them verbatim.
import { describe, expect, it } from 'vitest';
import { schedulerExample, deviceTimerExample } from '../examples/embedding/time.js';
import { servicesExample } from '../examples/embedding/services.js';
import { controlVerbsExample } from '../examples/embedding/control-verbs.js';

describe('docs/embedding.md: time, services, control verbs', () => {
  it('time: tasks run in virtual time order, a cancelled one never; runFor leaves the clock at its end', () => {
    expect(schedulerExample()).toEqual(['soon: nowNs = 500', 'after 1 ms: now() = 1', 'at 2 ms: now() = 2', 'end 5']);
  });

  it("time: a device's timer beats on the bus clock and goes away with the device", () => {
    expect(deviceTimerExample()).toEqual({ beats: { beats: 3, lastMs: 30 }, pendingAfterRemove: 0 });
  });

  it("services: the embedder's clock, random source and logger reach the bus and its devices", () => {
    const r = servicesExample();
    expect(r.mac).toBe('42:42:42:42:42:42'); // 0x42: already a locally administered unicast first octet
    expect(r.now).toBe(1234);
    expect(r.records).toEqual(['info embedder test record {"device":"venet0"}']);
  });

  it('control verbs: a venet NIC comes up in virtual time, with runUntilSettled and with an own loop', async () => {
    const r = await controlVerbsExample();
    expect(r.linkUp).toBe(true);
    expect(r.loopLinkUp).toBe(true);
    expect(r.upAtNs).toBeGreaterThan(0);
    expect(r.upAtNs % 1000).toBe(0);
    // every verb of the bring-up is in the trace, at its virtual time, one after another
    expect(r.trace.length).toBeGreaterThanOrEqual(4);
    expect(r.trace.every((l) => / (call|shm) venet0$/.test(l))).toBe(true);
    expect(r.stepped).toBeGreaterThan(0);
  });
});
