import { describe, expect, it } from 'vitest';
import { LoopbackBackend } from '@vbus/net';
import {
  VIRTIO_CALL_GET_STATUS,
  VIRTIO_CALL_QUEUE_SELECT,
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VQ_PAIRS,
  VIRTIO_NET_CONFIG_MTU,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_HDR_NUM_BUFFERS,
  VIRTIO_NET_HDR_CSUM_START,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_LINK_UP,
  VIRTIO_SHM_CONFIG,
  VirtioTransportClient,
  featureMask,
  u32Args,
  ctrlQueueIndex,
  rxQueueIndex,
  txQueueIndex,
  type VirtioNetConnection,
  type VirtioNetDevice,
} from '@vbus/virtio-compat';
import { inProcessGuest, newVirtioBus, openDriver, settle, until } from './fixtures/virtio-harness.js';

function client(device = 'vnet0', config: Record<string, unknown> = {}) {
  const bus = newVirtioBus();
  bus.createDevice('virtio-net', device, { mac: '52:54:00:aa:bb:cc', mtu: 9000, queuePairs: 2, ...config });
  const g = inProcessGuest(bus, device);
  return { bus, g, t: new VirtioTransportClient(g.conn, g.allocator) };
}

describe('virtio transport: status machine and features', () => {
  it('walks reset, ACKNOWLEDGE, DRIVER, FEATURES_OK and refuses out-of-order bits', async () => {
    const { t } = client();
    expect(await t.getStatus()).toBe(0);
    await expect(t.setStatus(DRIVER)).rejects.toThrow(/before ACKNOWLEDGE/);
    await expect(t.setStatus(ACK | FEATURES_OK)).rejects.toThrow(/FEATURES_OK before DRIVER/);
    expect(await t.setStatus(ACK)).toBe(ACK);
    await expect(t.setStatus(ACK | DRIVER | DRIVER_OK)).rejects.toThrow(/DRIVER_OK before FEATURES_OK/);
    expect(await t.setStatus(ACK | DRIVER)).toBe(ACK | DRIVER);
    await expect(t.setStatus(ACK)).rejects.toThrow(/only a reset/);
    await t.setDriverFeatures(featureMask(VIRTIO_F_VERSION_1));
    expect(await t.setStatus(ACK | DRIVER | FEATURES_OK)).toBe(ACK | DRIVER | FEATURES_OK);
    await expect(t.setDriverFeatures(0n)).rejects.toThrow(/after FEATURES_OK/);
    // writing 0 resets
    expect(await t.setStatus(0)).toBe(0);
    expect(await t.getStatus()).toBe(0);
    expect(await t.setStatus(ACK | FAILED)).toBe(ACK | FAILED);
  });

  it('offers 64-bit features with VERSION_1 (bit 32) in the high word', async () => {
    const { t } = client();
    const f = await t.deviceFeatures();
    expect(f & featureMask(VIRTIO_F_VERSION_1)).not.toBe(0n);
    expect(f & featureMask(VIRTIO_F_RING_PACKED)).not.toBe(0n);
    expect(f >> 32n).toBeGreaterThan(0n);
  });

  it('refuses FEATURES_OK without VERSION_1 or for features not offered, and for broken dependencies', async () => {
    const offeredNoMq = featureMask(VIRTIO_NET_F_MAC);
    const { t } = client('vnet0', { features: offeredNoMq });
    const tries: Array<[bigint, boolean]> = [
      [featureMask(VIRTIO_NET_F_MAC), false], // no VERSION_1
      [featureMask(VIRTIO_F_VERSION_1) | featureMask(VIRTIO_NET_F_MQ), false], // not offered
      [featureMask(VIRTIO_F_VERSION_1) | featureMask(VIRTIO_NET_F_MAC), true],
    ];
    for (const [f, ok] of tries) {
      await t.setStatus(0);
      await t.setStatus(ACK);
      await t.setStatus(ACK | DRIVER);
      await t.setDriverFeatures(f);
      const s = await t.setStatus(ACK | DRIVER | FEATURES_OK);
      expect((s & FEATURES_OK) !== 0).toBe(ok);
      if (!ok) expect(await t.setStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK)).toBe(ACK | DRIVER); // refused again, never live
    }
    // CTRL_RX without CTRL_VQ is refused by the device's own rule
    const all = client();
    await all.t.setStatus(ACK);
    await all.t.setStatus(ACK | DRIVER);
    await all.t.setDriverFeatures(featureMask(VIRTIO_F_VERSION_1) | featureMask(VIRTIO_NET_F_CTRL_RX));
    expect((await all.t.setStatus(ACK | DRIVER | FEATURES_OK)) & FEATURES_OK).toBe(0);
  });

  it('refuses queue setup before FEATURES_OK and reports queue sizes', async () => {
    const { t, g } = client();
    await expect(t.setupQueue(0, 64, { desc: 0x10000, driver: 0x20000, device: 0x30000 })).rejects.toThrow(/after FEATURES_OK/);
    expect(new DataView((await g.conn.call(VIRTIO_CALL_QUEUE_SELECT, u32Args(99))).buffer).getUint32(0, true)).toBe(0);
    expect(new DataView((await g.conn.call(VIRTIO_CALL_QUEUE_SELECT, u32Args(0))).buffer).getUint32(0, true)).toBe(1024);
    expect((await g.conn.call(VIRTIO_CALL_GET_STATUS)).length).toBe(4);
  });

  it('places the config space at the spec offsets', async () => {
    const { t } = client();
    const cfg = await t.readConfig(0, 12);
    const dv = new DataView(cfg.buffer, cfg.byteOffset);
    expect([...cfg.subarray(VIRTIO_NET_CONFIG_MAC, 6)]).toEqual([0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]);
    expect(VIRTIO_NET_CONFIG_STATUS).toBe(6);
    expect(dv.getUint16(VIRTIO_NET_CONFIG_STATUS, true)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS).toBe(8);
    expect(dv.getUint16(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS, true)).toBe(2);
    expect(VIRTIO_NET_CONFIG_MTU).toBe(10);
    expect(dv.getUint16(VIRTIO_NET_CONFIG_MTU, true)).toBe(9000);
    await expect(t.readConfig(10, 4)).rejects.toThrow(/beyond/);
  });

  it('pins the virtio-net layout constants', () => {
    expect(VIRTIO_NET_HDR_SIZE).toBe(12);
    expect(VIRTIO_NET_HDR_CSUM_START).toBe(6);
    expect(VIRTIO_NET_HDR_NUM_BUFFERS).toBe(10);
    expect([rxQueueIndex(1), txQueueIndex(1), rxQueueIndex(2), txQueueIndex(2), ctrlQueueIndex(2)]).toEqual([0, 1, 2, 3, 4]);
    expect(VIRTIO_SHM_CONFIG).toBe(0xffff);
  });
});

describe('virtio-net control queue', () => {
  it('acks promisc, allmulti and MAC set, and refuses what was not negotiated', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend: new LoopbackBackend() });
    const d = await openDriver(bus, 'vnet0');
    const dev = bus.device<VirtioNetDevice>('vnet0');
    const conn = (dev as unknown as { conns: Set<VirtioNetConnection> }).conns.values().next().value!;
    expect(conn.rxFilter().promisc).toBe(true);
    expect(await d.setRxMode({ promisc: false, allmulti: true })).toBe(true);
    expect(conn.rxFilter()).toMatchObject({ promisc: false, allmulti: true });
    const mac = Uint8Array.from([0x52, 0x54, 0, 0, 0, 0x42]);
    expect(await d.setMac(mac)).toBe(true);
    expect([...conn.rxFilter().mac]).toEqual([...mac]);
    // a multicast MAC is refused, an unknown class too
    expect(await d.command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, Uint8Array.from([1, 0, 0, 0, 0, 1]))).toBe(VIRTIO_NET_ERR);
    expect(await d.command(77, 0)).toBe(VIRTIO_NET_ERR);
    expect(await d.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, Uint8Array.of(1))).toBe(VIRTIO_NET_OK);

    // without CTRL_RX negotiated, rx-mode commands are refused
    const bus2 = newVirtioBus();
    bus2.createDevice('virtio-net', 'vnet1', { backend: new LoopbackBackend() });
    const d2 = await openDriver(bus2, 'vnet1', { features: ~featureMask(VIRTIO_NET_F_CTRL_RX) });
    expect(await d2.command(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, Uint8Array.of(0))).toBe(VIRTIO_NET_ERR);
    // and without CTRL_VQ there is no control queue at all
    const d3 = await openDriver(bus2, 'vnet1', { features: ~featureMask(VIRTIO_NET_F_CTRL_VQ) });
    await expect(d3.command(0, 0)).rejects.toThrow(/no control queue/);
  });

  it('with promisc off, drops frames for other MACs (counted as filtered)', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'vnet0', { mac: '52:54:00:00:00:01', backend: new LoopbackBackend() });
    const d = await openDriver(bus, 'vnet0');
    let got = 0;
    d.onFrame = () => got++;
    await d.setRxMode({ promisc: false });
    const other = new Uint8Array(60);
    other.set([0x52, 0x54, 0, 0, 0, 0x99], 0);
    d.send(other);
    const mine = new Uint8Array(60);
    mine.set(d.mac, 0);
    d.send(mine);
    await until(() => got === 1);
    await settle();
    expect(got).toBe(1);
    expect((bus.device<VirtioNetDevice>('vnet0').counters() as Record<string, Record<string, number>>).config!.filtered).toBe(1);
  });

  it('sends a config-change signal on link change and the driver sees it', async () => {
    const bus = newVirtioBus();
    bus.createDevice('virtio-net', 'vnet0', { backend: new LoopbackBackend() });
    const d = await openDriver(bus, 'vnet0');
    const seen: boolean[] = [];
    d.onConfigChange = (s) => seen.push(s.link);
    bus.device<VirtioNetDevice>('vnet0').setLink(false);
    await until(() => seen.length === 1);
    expect(d.link).toBe(false);
    bus.device<VirtioNetDevice>('vnet0').setLink(true);
    await until(() => seen.length === 2);
    expect(seen).toEqual([false, true]);
  });
});
