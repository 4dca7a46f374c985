// The virtio-net driver's bring-up steps (virtio 1.2 §3.1.1): feature negotiation checked by
// reading FEATURES_OK back, the device config read once, and each queue's ring and buffers.
import { BusError, type GuestAllocator, type GuestConnection, type RandomSource, type ShmSignal } from '@vbus/core';
import { randomLocalMac } from '@vbus/net';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  featureMask,
  hasFeature,
} from '../virtqueue/layout.js';
import { PackedQueueDriver } from '../virtqueue/packed-queue-driver.js';
import { SplitQueueDriver } from '../virtqueue/split-queue-driver.js';
import type { VirtqueueDriver } from '../virtqueue/virtqueue.js';
import type { VirtioTransportClient } from '../transport/transport-client.js';
import {
  VIRTIO_NET_CONFIG_MAC,
  VIRTIO_NET_CONFIG_MAX_VQ_PAIRS,
  VIRTIO_NET_CONFIG_MTU,
  VIRTIO_NET_CONFIG_SIZE,
  VIRTIO_NET_CONFIG_STATUS,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_S_LINK_UP,
} from './virtio-net-abi.js';
import { FreeBuffers } from './free-buffers.js';
import type { DriverQueue } from './virtio-net-driver-types.js';

/** What negotiation settled and the device config said. */
export interface NegotiatedDevice {
  features: bigint;
  mac: Uint8Array;
  /** undefined: MTU not negotiated (the driver keeps its default). */
  mtu: number | undefined;
  link: boolean;
  maxPairs: number;
}

/**
 * Reset, ACKNOWLEDGE, DRIVER, features (`supported` AND what the device offers, packed rings only
 * when `ring` asks for them), FEATURES_OK read back, then the config space. Throws when the
 * device lacks VERSION_1, packed rings were asked for but not offered, or FEATURES_OK was refused.
 */
export async function negotiate(t: VirtioTransportClient, name: string, supported: bigint, ring: 'split' | 'packed', random: RandomSource): Promise<NegotiatedDevice> {
  await t.setStatus(0);
  await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
  await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  const offered = await t.deviceFeatures();
  if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
    throw new BusError(`${name}: the device does not offer VERSION_1`);
  }
  let f = offered & supported;
  const packed = featureMask(VIRTIO_F_RING_PACKED);
  if (ring === 'packed') {
    if ((f & packed) === 0n) throw new BusError(`${name}: packed rings asked for but RING_PACKED is not available`);
    // this driver's packed ring does not implement IN_ORDER (the split ring's does)
    f &= ~featureMask(VIRTIO_F_IN_ORDER);
  } else f &= ~packed;
  if (!hasFeature(f, VIRTIO_NET_F_CTRL_VQ)) f &= ~(featureMask(VIRTIO_NET_F_CTRL_RX) | featureMask(VIRTIO_NET_F_MQ) | featureMask(VIRTIO_NET_F_CTRL_MAC_ADDR));
  await t.setDriverFeatures(f);
  const s = await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  if ((s & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
    await t.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
    throw new BusError(`${name}: the device refused features 0x${f.toString(16)} (FEATURES_OK not set)`);
  }
  const cfg = await t.readConfig(0, VIRTIO_NET_CONFIG_SIZE);
  const dv = new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength);
  const has = (bit: number) => hasFeature(f, bit);
  return {
    features: f,
    // no MAC from the device: a random local one, as Linux's virtio_net
    mac: has(VIRTIO_NET_F_MAC) ? cfg.slice(VIRTIO_NET_CONFIG_MAC, VIRTIO_NET_CONFIG_MAC + 6) : randomLocalMac(random),
    mtu: has(VIRTIO_NET_F_MTU) ? dv.getUint16(VIRTIO_NET_CONFIG_MTU, true) : undefined,
    link: !has(VIRTIO_NET_F_STATUS) || (dv.getUint16(VIRTIO_NET_CONFIG_STATUS, true) & VIRTIO_NET_S_LINK_UP) !== 0,
    maxPairs: has(VIRTIO_NET_F_MQ) ? dv.getUint16(VIRTIO_NET_CONFIG_MAX_VQ_PAIRS, true) : 1,
  };
}

/** Where a queue is made: the connection, its allocator and transport, and the negotiated features. */
export interface QueueSetup {
  conn: GuestConnection;
  allocator: GuestAllocator;
  transport: VirtioTransportClient;
  features: bigint;
  /** Signals by queue index: registered once per connection and reused by recover(). */
  signals: Map<number, ShmSignal>;
}

/**
 * Each buffer starts this far past a cache-line boundary, so that the frame after the 12-byte
 * header starts on one: a 64-byte frame fills one 64-byte line instead of straddling two, and the
 * header sits alone at the end of the line before, which a tx path that leaves an unchanged header
 * unwritten never dirties (the device's core keeps reading it from its own cache). Line-aligned
 * is 8-aligned too: copies between shared memory and a frame run word-wise only when both ends
 * agree modulo 8 (six times faster at 1500 bytes), as Linux's driver pads its header to align the frame.
 */
export const FRAME_ALIGN_PAD = 64 - VIRTIO_NET_HDR_SIZE;

/**
 * Allocate queue `index` (split or packed, as negotiated), tell the device where it is, and
 * allocate one buffer of `bufferSize` bytes per descriptor, all free. The signal's handler is
 * left to the caller.
 */
export async function setupDriverQueue(s: QueueSetup, index: number, size: number, bufferSize: number): Promise<DriverQueue> {
  const common = {
    name: `${s.conn.device.name}.q${index}`,
    memory: s.conn.memory,
    size,
    eventIdx: hasFeature(s.features, VIRTIO_F_EVENT_IDX),
    indirect: hasFeature(s.features, VIRTIO_F_INDIRECT_DESC),
    allocator: s.allocator,
  };
  const inOrder = hasFeature(s.features, VIRTIO_F_IN_ORDER);
  let vq: VirtqueueDriver<number>;
  let areas: { desc: number; driver: number; device: number };
  if (hasFeature(s.features, VIRTIO_F_RING_PACKED)) {
    const p = PackedQueueDriver.allocate<number>(common);
    const a = p.addresses;
    vq = p;
    areas = { desc: a.descRing, driver: a.driverEvent, device: a.deviceEvent };
  } else {
    const p = SplitQueueDriver.allocate<number>({ ...common, inOrder });
    const a = p.addresses;
    vq = p;
    areas = { desc: a.descTable, driver: a.availRing, device: a.usedRing };
  }
  let signal = s.signals.get(index);
  if (!signal) {
    signal = await s.transport.registerQueue(index, { address: areas.desc, length: 16 * size });
    s.signals.set(index, signal);
  }
  await s.transport.setupQueue(index, size, areas);
  const buffers: number[] = [];
  for (let i = 0; i < size; i++) buffers.push(s.allocator.alloc(bufferSize + FRAME_ALIGN_PAD, 64) + FRAME_ALIGN_PAD);
  return { index, vq, signal, buffers, bufferSize, free: new FreeBuffers(size) };
}
