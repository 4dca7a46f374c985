import { describe, expect, it } from 'vitest';
import * as backend from '../common/backend/index.js';
import * as packet from '../common/packet/index.js';
import * as responder from '../common/responder/index.js';
import * as node from './index.js';

// Pins the public surface: adding is fine (update the list), removing or renaming is a break.
describe('public exports', () => {
  it('backend', () => {
    for (const name of [
      'NetBackend',
      'newPortCounters',
      'NetError',
      'BackendPort',
      'LoopbackBackend',
      'LearningSwitch',
      'connectBackends',
      'PcapTap',
      'tapSink',
      'encodePcapGlobalHeader',
      'encodePcapRecord',
      'PCAP_MAGIC',
      'SoftwareOffload',
      'completeChecksum',
      'needsSoftwareOffload',
      'GSO_TCPV4',
      'GSO_TCPV6',
      'GSO_UDP',
      'StreamDeframer',
      'encodeStreamFrame',
      'QEMU_STREAM_MAX_FRAME',
      'VXLAN_PORT',
      'encodeVxlanHeader',
      'decodeVxlanHeader',
      'VDE_STREAM_MAX_FRAME',
      'encodeVdeStreamFrame',
      'VdeStreamDeframer',
    ]) {
      expect(backend, name).toHaveProperty(name);
    }
    expect(backend.QEMU_STREAM_MAX_FRAME).toBe(4096 + 65536);
    expect(backend.PCAP_MAGIC).toBe(0xa1b2c3d4);
    expect([backend.GSO_NONE, backend.GSO_TCPV4, backend.GSO_UDP, backend.GSO_TCPV6, backend.GSO_ECN]).toEqual([0, 1, 3, 4, 0x80]);
  });

  it('responder', () => {
    expect(responder).toHaveProperty('GuestResponder');
  });

  it('packet codec', () => {
    for (const name of [
      'internetChecksum',
      'buildIcmpEchoFrame',
      'parseIcmpEchoFrame',
      'buildArpFrame',
      'parseArpFrame',
      'buildUdpFrame',
      'parseUdpFrame',
      'parseIpv4',
      'parseMac',
    ]) {
      expect(packet, name).toHaveProperty(name);
    }
  });

  it('node', () => {
    expect(Object.keys(node).sort()).toEqual([
      'PcapFile',
      'QemuDgramBackend',
      'QemuStreamBackend',
      'VdePlugBackend',
      'VxlanBackend',
      'netNodeModule',
      'qemuDgramFactory',
      'qemuStreamFactory',
      'vdeFactory',
      'vxlanFactory',
    ]);
  });
});
