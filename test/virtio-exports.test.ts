import { expect, it } from 'vitest';
import * as api from '@vbus/virtio-compat';
import * as virtqueue from '../packages/virtio-compat/src/common/virtqueue/index.js';
import { Container } from 'inversify';
import { DeviceClass } from '@vbus/core';

it('the package entry re-exports the virtqueue API plus transport, virtio-net and the module', () => {
  const keys = Object.keys(api);
  for (const k of Object.keys(virtqueue)) expect(keys).toContain(k);
  const own = keys.filter((k) => !(k in virtqueue)).sort();
  expect(own).toMatchInlineSnapshot(`
    [
      "VIRTIO_CALL_CONFIG_GENERATION",
      "VIRTIO_CALL_GET_DEVICE_FEATURES",
      "VIRTIO_CALL_GET_ERROR",
      "VIRTIO_CALL_GET_STATUS",
      "VIRTIO_CALL_NUM_QUEUES",
      "VIRTIO_CALL_QUEUE_ENABLE",
      "VIRTIO_CALL_QUEUE_GET_STATE",
      "VIRTIO_CALL_QUEUE_SELECT",
      "VIRTIO_CALL_QUEUE_SET_ADDR",
      "VIRTIO_CALL_QUEUE_SET_SIZE",
      "VIRTIO_CALL_QUEUE_SET_STATE",
      "VIRTIO_CALL_READ_CONFIG",
      "VIRTIO_CALL_RESET",
      "VIRTIO_CALL_SET_DRIVER_FEATURES",
      "VIRTIO_CALL_SET_STATUS",
      "VIRTIO_CALL_WRITE_CONFIG",
      "VIRTIO_NET_CONFIG_MAC",
      "VIRTIO_NET_CONFIG_MAX_VQ_PAIRS",
      "VIRTIO_NET_CONFIG_MTU",
      "VIRTIO_NET_CONFIG_SIZE",
      "VIRTIO_NET_CONFIG_STATUS",
      "VIRTIO_NET_CTRL_ANNOUNCE",
      "VIRTIO_NET_CTRL_ANNOUNCE_ACK",
      "VIRTIO_NET_CTRL_HDR_SIZE",
      "VIRTIO_NET_CTRL_MAC",
      "VIRTIO_NET_CTRL_MAC_ADDR_SET",
      "VIRTIO_NET_CTRL_MAC_TABLE_SET",
      "VIRTIO_NET_CTRL_MQ",
      "VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET",
      "VIRTIO_NET_CTRL_RX",
      "VIRTIO_NET_CTRL_RX_ALLMULTI",
      "VIRTIO_NET_CTRL_RX_PROMISC",
      "VIRTIO_NET_DRIVER_FEATURES",
      "VIRTIO_NET_ERR",
      "VIRTIO_NET_F_CSUM",
      "VIRTIO_NET_F_CTRL_MAC_ADDR",
      "VIRTIO_NET_F_CTRL_RX",
      "VIRTIO_NET_F_CTRL_VLAN",
      "VIRTIO_NET_F_CTRL_VQ",
      "VIRTIO_NET_F_GUEST_ANNOUNCE",
      "VIRTIO_NET_F_GUEST_CSUM",
      "VIRTIO_NET_F_GUEST_TSO4",
      "VIRTIO_NET_F_GUEST_TSO6",
      "VIRTIO_NET_F_HOST_TSO4",
      "VIRTIO_NET_F_HOST_TSO6",
      "VIRTIO_NET_F_MAC",
      "VIRTIO_NET_F_MQ",
      "VIRTIO_NET_F_MRG_RXBUF",
      "VIRTIO_NET_F_MTU",
      "VIRTIO_NET_F_STATUS",
      "VIRTIO_NET_HDR_CSUM_OFFSET",
      "VIRTIO_NET_HDR_CSUM_START",
      "VIRTIO_NET_HDR_FLAGS",
      "VIRTIO_NET_HDR_F_DATA_VALID",
      "VIRTIO_NET_HDR_F_NEEDS_CSUM",
      "VIRTIO_NET_HDR_GSO_ECN",
      "VIRTIO_NET_HDR_GSO_NONE",
      "VIRTIO_NET_HDR_GSO_SIZE",
      "VIRTIO_NET_HDR_GSO_TCPV4",
      "VIRTIO_NET_HDR_GSO_TCPV6",
      "VIRTIO_NET_HDR_GSO_TYPE",
      "VIRTIO_NET_HDR_GSO_UDP",
      "VIRTIO_NET_HDR_HDR_LEN",
      "VIRTIO_NET_HDR_NUM_BUFFERS",
      "VIRTIO_NET_HDR_SIZE",
      "VIRTIO_NET_MAX_FRAME",
      "VIRTIO_NET_OK",
      "VIRTIO_NET_SUPPORTED_FEATURES",
      "VIRTIO_NET_S_ANNOUNCE",
      "VIRTIO_NET_S_LINK_UP",
      "VIRTIO_NET_TYPE",
      "VIRTIO_SHM_CONFIG",
      "VirtioDeviceConnection",
      "VirtioNetConnection",
      "VirtioNetDevice",
      "VirtioNetDeviceClass",
      "VirtioNetDriver",
      "VirtioTransportClient",
      "ctrlQueueIndex",
      "decodeNetHeader",
      "emptyNetHeader",
      "encodeNetHeader",
      "rxQueueIndex",
      "txQueueIndex",
      "u32Args",
      "virtioNetModule",
    ]
  `);
});

it('the container module binds the virtio-net device class to the DeviceClass token', () => {
  const c = new Container();
  c.load(api.virtioNetModule);
  const classes = c.getAll<DeviceClass<unknown>>(DeviceClass);
  expect(classes.map((x) => x.type)).toEqual(['virtio-net']);
});

it('pins the virtio-net constants against virtio 1.2 (docs/architecture.md section 3.4)', () => {
  expect([
    api.VIRTIO_NET_F_CSUM,
    api.VIRTIO_NET_F_GUEST_CSUM,
    api.VIRTIO_NET_F_MTU,
    api.VIRTIO_NET_F_MAC,
    api.VIRTIO_NET_F_GUEST_TSO4,
    api.VIRTIO_NET_F_GUEST_TSO6,
    api.VIRTIO_NET_F_HOST_TSO4,
    api.VIRTIO_NET_F_HOST_TSO6,
    api.VIRTIO_NET_F_MRG_RXBUF,
    api.VIRTIO_NET_F_STATUS,
    api.VIRTIO_NET_F_CTRL_VQ,
    api.VIRTIO_NET_F_CTRL_RX,
    api.VIRTIO_NET_F_CTRL_VLAN,
    api.VIRTIO_NET_F_GUEST_ANNOUNCE,
    api.VIRTIO_NET_F_MQ,
    api.VIRTIO_NET_F_CTRL_MAC_ADDR,
  ]).toEqual([0, 1, 3, 5, 7, 8, 11, 12, 15, 16, 17, 18, 19, 21, 22, 23]);
  expect([api.VIRTIO_NET_HDR_F_NEEDS_CSUM, api.VIRTIO_NET_HDR_F_DATA_VALID]).toEqual([1, 2]);
  expect([api.VIRTIO_NET_HDR_GSO_NONE, api.VIRTIO_NET_HDR_GSO_TCPV4, api.VIRTIO_NET_HDR_GSO_UDP, api.VIRTIO_NET_HDR_GSO_TCPV6, api.VIRTIO_NET_HDR_GSO_ECN]).toEqual([
    0, 1, 3, 4, 0x80,
  ]);
  expect([
    api.VIRTIO_NET_HDR_FLAGS,
    api.VIRTIO_NET_HDR_GSO_TYPE,
    api.VIRTIO_NET_HDR_HDR_LEN,
    api.VIRTIO_NET_HDR_GSO_SIZE,
    api.VIRTIO_NET_HDR_CSUM_START,
    api.VIRTIO_NET_HDR_CSUM_OFFSET,
    api.VIRTIO_NET_HDR_NUM_BUFFERS,
    api.VIRTIO_NET_HDR_SIZE,
  ]).toEqual([0, 1, 2, 4, 6, 8, 10, 12]);
  expect([api.VIRTIO_NET_S_LINK_UP, api.VIRTIO_NET_S_ANNOUNCE, api.VIRTIO_NET_OK, api.VIRTIO_NET_ERR]).toEqual([1, 2, 0, 1]);
  const h = api.emptyNetHeader();
  Object.assign(h, { flags: 1, gsoType: 4, hdrLen: 0x102, gsoSize: 0x304, csumStart: 0x506, csumOffset: 0x708, numBuffers: 0x90a });
  const b = new Uint8Array(12);
  api.encodeNetHeader(h, b);
  expect([...b]).toEqual([1, 4, 2, 1, 4, 3, 6, 5, 8, 7, 0x0a, 0x09]);
  expect(api.decodeNetHeader(b, api.emptyNetHeader())).toEqual(h);
});
