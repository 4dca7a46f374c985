import { describe, expect, it } from 'vitest';
import { createVbus } from '@vbus/core';
import { SEND_MORE, type GuestNic } from '@vbus/net';
import { CaptureBackend } from '@vbus/net/testing';
import { VenetDriver, venetModule } from '@vbus/venet';
import { VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';
import { inProcessGuest, settle, testFrame } from './fixtures/venet-harness.js';

// A sender whose send() was refused for a full ring sleeps until the driver calls onTxWake (Linux's
// netif_stop_queue / netif_wake_queue) instead of polling: the guest-nic worker and the bench rely
// on it to leave the CPU to the device.
async function open(kind: 'venet' | 'virtio-net'): Promise<{ nic: GuestNic; backend: CaptureBackend }> {
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus('wake');
  const backend = new CaptureBackend();
  bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic0', { mac: '52:54:00:00:00:01', backend });
  const g = inProcessGuest(bus, 'nic0');
  const nic = kind === 'venet' ? await VenetDriver.open(g.conn, g.allocator, { ringSize: 16 }) : await VirtioNetDriver.open(g.conn, g.allocator, { queueSize: 16 });
  return { nic, backend };
}

describe.each(['venet', 'virtio-net'] as const)('%s: onTxWake', (kind) => {
  it('is called once when the device frees buffers after a send refused for a full ring, and not without a refusal', async () => {
    const { nic, backend } = await open(kind);
    let wakes = 0;
    nic.onTxWake = () => wakes++;
    // fill the ring without a kick: the device has not run, so the next send is refused
    let sent = 0;
    while (nic.send(testFrame(sent), SEND_MORE)) sent++;
    expect(sent).toBeGreaterThan(0);
    expect(wakes).toBe(0);
    nic.flush();
    await settle(() => wakes > 0);
    expect(wakes).toBe(1);
    expect(backend.frames.length).toBe(sent);
    // the queue runs again; sends that are not refused wake nobody
    expect(nic.send(testFrame(sent), SEND_MORE)).toBe(true);
    nic.flush();
    await settle(() => backend.frames.length === sent + 1);
    await settle(undefined, 50);
    expect(wakes).toBe(1);
    await nic.close();
  });
});
