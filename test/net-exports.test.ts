import { describe, expect, it } from 'vitest';
import * as net from '@vbus/net';
import * as netNode from '@vbus/net/node';
import * as netTesting from '@vbus/net/testing';

describe('@vbus/net public surface', () => {
  it('exports the backends, switch, offload, pcap, stream framing, packet codec and responder', () => {
    for (const name of [
      'newPortCounters',
      'NetError',
      'BackendPort',
      'LoopbackBackend',
      'LearningSwitch',
      'connectBackends',
      'PcapTap',
      'SoftwareOffload',
      'needsSoftwareOffload',
      'StreamDeframer',
      'GuestResponder',
      'buildIcmpEchoFrame',
      'buildArpFrame',
      'buildUdpFrame',
      'buildTcpSegment',
      'internetChecksum',
      'parseMac',
      'formatMac',
      'parseIpv4',
      'configMac',
      'randomLocalMac',
      'SEND_MORE',
      'SEND_NOW',
      'attachPeer',
      'NapiPoll',
      'PollBatch',
      'EmulatorNic',
    ])
      expect(net, name).toHaveProperty(name);
  });

  it('both guest NIC drivers are a GuestNic (checked by the compiler here)', async () => {
    const { VenetDriver } = await import('@vbus/venet');
    const { VirtioNetDriver } = await import('@vbus/virtio-compat');
    const kinds: Array<(...a: never[]) => Promise<net.GuestNic>> = [VenetDriver.open, VirtioNetDriver.open];
    expect(kinds).toHaveLength(2);
  });

  it('node: the QEMU socket backends and pcap files; testing: the capture backend', () => {
    expect(Object.keys(netNode).sort()).toEqual([
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
    expect(Object.keys(netTesting).sort()).toEqual(['CaptureBackend']);
  });

  it('every subpath a package exports exists', async () => {
    const { readFileSync, existsSync } = await import('node:fs');
    for (const pkg of ['core', 'net', 'venet', 'virtio-compat']) {
      const root = new URL(`../packages/${pkg}/`, import.meta.url);
      const exports = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).exports as Record<string, string | Record<string, string>>;
      // the sources (dist/ exists only after a build; test/consumer.test.ts checks the packed files)
      for (const [sub, target] of Object.entries(exports)) {
        const file = typeof target === 'string' ? target : target['@vbus/source']!;
        expect(existsSync(new URL(file, root)), `${pkg} ${sub} -> ${file}`).toBe(true);
      }
    }
  });
});
