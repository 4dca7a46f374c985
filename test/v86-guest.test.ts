// A real 32-bit Linux (Debian's i386 kernel, busybox) boots inside v86, an x86 emulator in JavaScript
// and wasm that nobody here wrote; v86's emulated NIC (virtio-net here; its ne2k runs in the browser
// test's page) is a port on a vbus learning switch (EmulatorNic). Linux's own NIC driver pings a
// TypeScript guest behind venet and one behind virtio-net and exchanges UDP with their echo service
// at every size up to the MTU; both guests ping it back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startV86Lan, type LanGuest } from '../examples/v86/v86-lan.js';
import { buildV86Initramfs, SEABIOS, VGABIOS, v86GuestAssets, type V86NicType } from './v86/linux-image.js';

const LINUX_IP = '192.0.2.2';
const LINUX_MAC = '52:54:00:00:01:02';
const VENET_IP = '192.0.2.1';
const VIRTIO_IP = '192.0.2.3';
/** Largest UDP payload in one 1500-byte IPv4 packet (1500 - 20 - 8), and the largest ping data (1500 - 20 - 8). */
const MAX_UDP = 1472;
const MAX_PING = 1472;

// The guest's part: ping both TypeScript guests (small and MTU-sized), echo every UDP size 0..1472
// off each, then wait for the test's "go" on the console (so the test's own pings find it up).
const SCRIPT = [VENET_IP, VIRTIO_IP]
  .flatMap((ip) => [`ping -c 5 -W 5 ${ip}`, `ping -c 2 -W 5 -s ${MAX_PING} ${ip}`, `/bin/udp-echo ${ip} 7 0 ${MAX_UDP}`])
  .concat(['echo VBUS-GUEST-WAITING', 'read -r go', 'echo "VBUS-GUEST-GO $go"'])
  .join('\n');

async function until(cond: () => boolean, ms: number, what: string, log: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; v86 console:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The busybox ping summary for `ip` (transmitted, received, round trips in ms). */
function pingSummaries(console: string, ip: string): Array<{ sent: number; received: number; rtt: string }> {
  const out = [];
  const re = new RegExp(
    `--- ${ip.replace(/\./g, '\\.')} ping statistics ---\\s+(\\d+) packets transmitted, (\\d+) packets received[^\\n]*\\n(?:round-trip min/avg/max = ([\\d./]+) ms)?`,
    'g',
  );
  for (const m of console.matchAll(re)) out.push({ sent: Number(m[1]), received: Number(m[2]), rtt: m[3] ?? '' });
  return out;
}

describe('v86 (a real Linux in an x86 emulator) on a vbus switch', { timeout: 240_000 }, () => {
  it.each(['virtio'] as V86NicType[])("v86's %s: Linux pings venet and virtio-net guests, UDP echo at every size to 1472, pinged back", async (nic) => {
    const assets = v86GuestAssets();
    const initrd = buildV86Initramfs(assets, { nic, mac: LINUX_MAC, ip: `${LINUX_IP}/24`, script: SCRIPT });
    const started = Date.now();
    const lan = await startV86Lan({
      bios: readFileSync(SEABIOS),
      vgaBios: readFileSync(VGABIOS),
      bzimage: readFileSync(assets.vmlinuz),
      initrd,
      nic,
      mac: LINUX_MAC,
      venetIp: VENET_IP,
      virtioIp: VIRTIO_IP,
    });
    try {
      await until(() => lan.console().includes('VBUS-GUEST-UP'), 180_000, 'Linux to boot in v86', lan.console);
      const bootMs = Date.now() - started;
      // our guests ping Linux (its kernel answers) while its own script runs
      const ours: Array<{ from: LanGuest; rtt: number[] }> = [];
      for (const g of [lan.venet, lan.virtio]) {
        const rtt: number[] = [];
        for (const size of [56, MAX_PING]) {
          const reply = await g.responder.ping(LINUX_IP, size);
          expect(reply.from).toBe(LINUX_IP);
          expect(reply.size).toBe(size);
          rtt.push(reply.rttMs);
        }
        ours.push({ from: g, rtt });
      }
      await until(() => lan.console().includes('VBUS-GUEST-WAITING'), 120_000, "Linux's pings and UDP echoes", lan.console);
      lan.emulator.serial0_send('now\n');
      await until(() => lan.console().includes('VBUS-GUEST-GO now'), 20_000, 'Linux to read the go', lan.console);

      const text = lan.console();
      for (const ip of [VENET_IP, VIRTIO_IP]) {
        const pings = pingSummaries(text, ip);
        expect(
          pings.map((p) => [p.sent, p.received]),
          `pings to ${ip}`,
        ).toEqual([
          [5, 5],
          [2, 2],
        ]);
        const echo = new RegExp(`VBUS-UDP-ECHO dest=${ip.replace(/\./g, '\\.')} sizes=(\\d+) ok=(\\d+) lost=(\\d+) bad=(\\d+) retries=(\\d+) ms=(\\d+)`).exec(text);
        expect(echo, `udp-echo to ${ip}`).not.toBeNull();
        expect(echo!.slice(1, 5).map(Number), `udp-echo to ${ip}: sizes, ok, lost, bad`).toEqual([MAX_UDP + 1, MAX_UDP + 1, 0, 0]);
        process.stdout.write(
          `v86 ${nic}: Linux -> ${ip}: ping rtt min/avg/max ${pings.map((p) => p.rtt).join(' | ')} ms; UDP echo ${echo![1]} sizes in ${echo![6]} ms (${echo![5]} resends)\n`,
        );
      }
      for (const { from, rtt } of ours) process.stdout.write(`v86 ${nic}: ${from.kind} -> Linux: ping rtt ${rtt.map((r) => r.toFixed(2)).join(', ')} ms (56, ${MAX_PING} bytes)\n`);
      process.stdout.write(`v86 ${nic}: boot to eth0 up ${(bootMs / 1000).toFixed(1)} s\n`);

      // every echo was answered by the responder behind the NIC it was sent to
      for (const g of [lan.venet, lan.virtio]) {
        expect(g.responder.counters.udpEchoed, `${g.kind} echoed`).toBeGreaterThanOrEqual(MAX_UDP + 1);
        expect(g.responder.counters.echoRepliesOut, `${g.kind} answered pings`).toBeGreaterThanOrEqual(7);
        expect(g.responder.counters.badChecksum, `${g.kind} bad checksums`).toBe(0);
      }
      // the emulator's port: frames both ways, nothing malformed, nothing dropped
      const pc = lan.port.portCounters;
      expect(pc.txFrames).toBeGreaterThan(2 * (MAX_UDP + 1));
      expect(pc.rxFrames).toBeGreaterThan(2 * (MAX_UDP + 1));
      expect(pc.drops).toBe(0);
      expect(lan.port.counters.malformed).toBe(0);
    } finally {
      await lan.close();
    }
  });
});
