import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { le } from '@vbus/core';
import { PcapFile } from './pcap-file.js';
import { GSO_TCPV4 } from '../common/backend/offload.js';
import { LearningSwitch } from '../common/backend/learning-switch.js';
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPPROTO_TCP,
  buildIcmpEchoFrame,
  buildIpv4Frame,
  buildTcpSegment,
  foldSum,
  locateL4,
  parseIpv4,
  parseMac,
  pseudoSum,
} from '../common/packet/index.js';

const macA = parseMac('02:00:00:00:00:0a');
const macB = parseMac('02:00:00:00:00:0b');

function tshark(file: string, fields: string[]): string[][] {
  const args = ['-r', file, '-T', 'fields'];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', env: { ...process.env, HOME: tmpdir() } });
  return out
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
}

describe('pcap file read back by tshark', () => {
  it('tshark sees the frame lengths, MACs, IPs and ICMP types written through a switch capture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-pcap-'));
    const path = join(dir, 'cap.pcap');
    try {
      const file = PcapFile.open(path);
      const sw = new LearningSwitch({ capture: file.sink });
      const a = sw.attach({ name: 'a', mac: macA }, { deliver: () => true });
      sw.attach({ name: 'b', mac: macB }, { deliver: () => true });
      const ipA = parseIpv4('192.0.2.10');
      const ipB = parseIpv4('192.0.2.11');
      const sizes = [0, 56, 1472];
      for (const size of sizes) {
        a.deliver(buildIcmpEchoFrame({ srcMac: macA, dstMac: macB, srcIp: ipA, dstIp: ipB, type: ICMP_ECHO_REQUEST, id: 1, seq: size, data: new Uint8Array(size) }));
      }
      a.deliver(buildIcmpEchoFrame({ srcMac: macB, dstMac: macA, srcIp: ipB, dstIp: ipA, type: ICMP_ECHO_REPLY, id: 1, seq: 9, data: new Uint8Array(8) }));
      // An offloaded TCP super-frame is recorded as the segments a wire would carry.
      const tcp = buildIpv4Frame({
        srcMac: macA,
        dstMac: macB,
        srcIp: ipA,
        dstIp: ipB,
        protocol: IPPROTO_TCP,
        payload: buildTcpSegment({ srcPort: 1234, dstPort: 80, seq: 1, data: new Uint8Array(3000).fill(1) }),
      });
      const loc = locateL4(tcp)!;
      le.setBE16(tcp, loc.l4Offset + 16, foldSum(pseudoSum(tcp, loc)));
      a.deliver(tcp, { needsCsum: true, csumStart: loc.l4Offset, csumOffset: 16, gsoType: GSO_TCPV4, gsoSize: 1460, hdrLen: 54, ecn: false });
      await file.close();

      expect(readFileSync(path).length).toBe(file.tap.bytes);
      const rows = tshark(path, ['frame.len', 'eth.src', 'ip.src', 'icmp.type']);
      expect(rows.slice(0, 4)).toEqual([
        ['42', '02:00:00:00:00:0a', '192.0.2.10', '8'],
        ['98', '02:00:00:00:00:0a', '192.0.2.10', '8'],
        ['1514', '02:00:00:00:00:0a', '192.0.2.10', '8'],
        ['50', '02:00:00:00:00:0b', '192.0.2.11', '0'],
      ]);
      expect(rows.slice(4).map((r) => r[0])).toEqual(['1514', '1514', '134']);
      // tshark itself validates the TCP checksums of the segments.
      const tcpRows = tshark(path, ['tcp.seq_raw', 'tcp.len']).filter((r) => r[0] !== '');
      expect(tcpRows).toEqual([
        ['1', '1460'],
        ['1461', '1460'],
        ['2921', '80'],
      ]);
      const verified = execFileSync(
        'tshark',
        ['-r', path, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-Y', 'tcp.checksum.status == 1 && ip.checksum.status == 1'],
        {
          encoding: 'utf8',
          env: { ...process.env, HOME: tmpdir() },
        },
      );
      expect(verified.trim().split('\n').length).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pcap file backpressure (issue 10)', () => {
  it('drops and counts records when the file is more than maxQueuedBytes behind; the file stays valid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-pcap-'));
    const path = join(dir, 'bp.pcap');
    try {
      const pcap = PcapFile.open(path, { maxQueuedBytes: 4096 });
      const frame = new Uint8Array(1000);
      frame.set(macB, 0);
      frame.set(macA, 6);
      frame[12] = 0x88;
      frame[13] = 0xb5;
      // 200 frames in one turn: the disk cannot have taken any of them yet
      for (let i = 0; i < 200; i++) expect(pcap.sink.deliver(frame)).toBe(true);
      expect(pcap.tap.dropped).toBeGreaterThan(150);
      expect(pcap.tap.records + pcap.tap.dropped).toBe(200);
      expect(pcap.tap.records).toBeGreaterThan(0);
      await pcap.close();
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(pcap.tap.bytes);
      expect(tshark(path, ['frame.len']).length).toBe(pcap.tap.records);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
