import { describe, expect, it } from 'vitest';
import * as abi from './venet-abi.js';

// Every number below is copied from docs/architecture.md section 3.3 (the venet ABI) or is a documented choice
// of this implementation (natural-alignment offsets, the event queue id).
describe('venet ABI constants', () => {
  it('type, version, queues and calls match docs/architecture.md', () => {
    expect(abi.VENET_TYPE).toBe('virtual-ethernet');
    expect(abi.VENET_VERSION).toBe(1);
    expect([abi.VENET_QUEUE_RX, abi.VENET_QUEUE_TX, abi.VENET_QUEUE_EVQ]).toEqual([0, 1, 2]);
    expect([
      abi.VENET_FUNC_LINKUP,
      abi.VENET_FUNC_LINKDOWN,
      abi.VENET_FUNC_MACQUERY,
      abi.VENET_FUNC_NEGCAP,
      abi.VENET_FUNC_FLUSHRX,
      abi.VENET_FUNC_PMTDQUERY,
      abi.VENET_FUNC_EVQQUERY,
      abi.VENET_FUNC_L4ROQUERY,
    ]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('capability groups and bits', () => {
    expect([abi.VENET_CAPS_OFF_GID, abi.VENET_CAPS_OFF_BITS, abi.VENET_CAPS_SIZE]).toEqual([0, 4, 8]);
    expect([abi.VENET_CAP_GROUP_SG, abi.VENET_CAP_GROUP_EVENTQ, abi.VENET_CAP_GROUP_L4RO]).toEqual([0, 1, 2]);
    expect([abi.VENET_CAP_SG, abi.VENET_CAP_TSO4, abi.VENET_CAP_TSO6, abi.VENET_CAP_ECN, abi.VENET_CAP_UFO, abi.VENET_CAP_PMTD]).toEqual([1, 2, 4, 8, 16, 32]);
    expect([abi.VENET_CAP_EVQ_LINKSTATE, abi.VENET_CAP_EVQ_TXC]).toEqual([1, 2]);
  });

  it('SG descriptor layout: natural alignment', () => {
    expect(abi.VENET_SG_OFF_COOKIE).toBe(0); // u64
    expect(abi.VENET_SG_OFF_FLAGS).toBe(8); // u32
    expect(abi.VENET_SG_OFF_LEN).toBe(12); // u32
    expect(abi.VENET_SG_OFF_CSUM_START).toBe(16); // u16
    expect(abi.VENET_SG_OFF_CSUM_OFFSET).toBe(18); // u16
    expect(abi.VENET_SG_OFF_GSO_TYPE).toBe(20); // u8 + pad
    expect(abi.VENET_SG_OFF_GSO_HDRLEN).toBe(22); // u16
    expect(abi.VENET_SG_OFF_GSO_SIZE).toBe(24); // u16 + 2 pad
    expect(abi.VENET_SG_OFF_COUNT).toBe(28); // u32
    expect(abi.VENET_SG_OFF_IOV).toBe(32);
    expect(abi.VENET_SG_HEADER_SIZE).toBe(32);
    expect([abi.VENET_IOV_OFF_LEN, abi.VENET_IOV_OFF_PTR, abi.VENET_IOV_SIZE]).toEqual([0, 8, 16]);
    expect(abi.venetSgSize(3)).toBe(32 + 48);
    for (const [off, size] of [
      [abi.VENET_SG_OFF_COOKIE, 8],
      [abi.VENET_SG_OFF_FLAGS, 4],
      [abi.VENET_SG_OFF_LEN, 4],
      [abi.VENET_SG_OFF_CSUM_START, 2],
      [abi.VENET_SG_OFF_CSUM_OFFSET, 2],
      [abi.VENET_SG_OFF_GSO_HDRLEN, 2],
      [abi.VENET_SG_OFF_GSO_SIZE, 2],
      [abi.VENET_SG_OFF_COUNT, 4],
      [abi.VENET_SG_OFF_IOV + abi.VENET_IOV_OFF_PTR, 8],
    ] as const)
      expect(off % size).toBe(0);
    expect([abi.VENET_SG_FLAG_NEEDS_CSUM, abi.VENET_SG_FLAG_GSO, abi.VENET_SG_FLAG_ECN, abi.VENET_SG_FLAGS_ALL]).toEqual([1, 2, 4, 7]);
    expect([abi.VENET_GSO_TYPE_TCPV4, abi.VENET_GSO_TYPE_UDP, abi.VENET_GSO_TYPE_TCPV6]).toEqual([0, 1, 2]);
  });

  it('event layouts', () => {
    expect([abi.VENET_EVENT_OFF_FLAGS, abi.VENET_EVENT_OFF_SIZE, abi.VENET_EVENT_OFF_ID, abi.VENET_EVENT_HEADER_SIZE]).toEqual([0, 4, 8, 12]);
    expect([abi.VENET_EVENT_LINKSTATE, abi.VENET_EVENT_TXC]).toEqual([0, 1]);
    expect([abi.VENET_EVENT_LINKSTATE_OFF_STATE, abi.VENET_EVENT_LINKSTATE_SIZE]).toEqual([12, 16]);
    expect([abi.VENET_EVENT_TXC_OFF_TXQID, abi.VENET_EVENT_TXC_OFF_COOKIE, abi.VENET_EVENT_TXC_SIZE]).toEqual([12, 16, 24]);
    expect([abi.VENET_EVQ_OFF_FLAGS, abi.VENET_EVQ_OFF_EVSIZE, abi.VENET_EVQ_OFF_QID, abi.VENET_EVQ_QUERY_SIZE]).toEqual([0, 4, 8, 16]);
    expect([abi.VENET_PMTD_OFF_POOL, abi.VENET_PMTD_OFF_LEN, abi.VENET_PMTD_QUERY_SIZE]).toEqual([0, 8, 16]);
  });

  it('host and guest defaults from the original', () => {
    expect(abi.VENET_MAX_RING_SIZE).toBe(2048);
    expect(abi.VENET_DEFAULT_TX_COMPLETE_EVERY).toBe(10);
    expect(abi.VENET_DEFAULT_GUEST_RING_SIZE).toBe(256);
    expect(abi.VENET_DEFAULT_POLL_WEIGHT).toBe(128);
    expect(abi.VENET_MAX_GSO_FRAME).toBe(4096 + 65536);
  });
});

describe("venet gso.type against the frames' (virtio-net) numbering", () => {
  it('maps both ways in one place, and refuses what has no venet number', async () => {
    const { venetGsoToFrame, frameGsoToVenet } = await import('./venet-gso.js');
    const { GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP } = await import('@vbus/net');
    expect([0, 1, 2].map(venetGsoToFrame)).toEqual([GSO_TCPV4, GSO_UDP, GSO_TCPV6]);
    expect([GSO_TCPV4, GSO_UDP, GSO_TCPV6].map(frameGsoToVenet)).toEqual([0, 1, 2]);
    expect(frameGsoToVenet(GSO_NONE)).toBe(0xff);
  });
});
