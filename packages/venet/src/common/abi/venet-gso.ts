/**
 * venet's gso.type numbering against the one the host side uses. @vbus/net's frames carry GSO
 * types in virtio-net's numbering (GSO_TCPV4 1, GSO_UDP 3, GSO_TCPV6 4), the numbering of the
 * virtio-net header; venet's SG descriptor numbers them TCPV4 0, UDP 1, TCPV6 2. This is the one
 * place that maps between them; the device and the driver both use it.
 */
import { GSO_TCPV4, GSO_TCPV6, GSO_UDP } from '@vbus/net';
import { VENET_GSO_TYPE_TCPV4, VENET_GSO_TYPE_TCPV6, VENET_GSO_TYPE_UDP } from './venet-abi.js';

/** A venet gso.type (already checked to be one of the three) as the frame's GSO type. */
export function venetGsoToFrame(type: number): number {
  return type === VENET_GSO_TYPE_TCPV4 ? GSO_TCPV4 : type === VENET_GSO_TYPE_TCPV6 ? GSO_TCPV6 : GSO_UDP;
}

/** A frame's GSO type as venet's gso.type; 0xff (refused by the device) for NONE or an unknown type. */
export function frameGsoToVenet(gsoType: number): number {
  const t = gsoType;
  return t === GSO_TCPV4 ? VENET_GSO_TYPE_TCPV4 : t === GSO_TCPV6 ? VENET_GSO_TYPE_TCPV6 : t === GSO_UDP ? VENET_GSO_TYPE_UDP : 0xff;
}
