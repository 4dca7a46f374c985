// Real guests on a segment that spans two vbus processes joined by VXLAN (loopback): a QEMU VM
// with virtio-net-pci on serve A (venet guest), a QEMU VM with e1000 on serve B (virtio-net
// guest). Every host pings every other; a pcap of each serve's switch, read by tshark, shows the
// ARP and ICMP that crossed it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootLinuxVm, type BootedVm } from './qemu/boot.js';
import { freePort, killServes, remoteRow, serve } from './fixtures/serve-process.js';

afterAll(killServes);

const HOSTS = { a: '192.0.2.1', vm1: '192.0.2.2', b: '192.0.2.3', vm2: '192.0.2.4' };

function bootVm(ip: string, nic: string, port: number, others: string[]): BootedVm {
  // wait for each peer (the other VM boots in parallel), then count three pings; stay up a while
  // so the others can ping this VM too
  const script = `${others.map((o) => `n=0; until ping -c 1 -W 2 ${o} >/dev/null || [ $n -ge 40 ]; do n=$((n+1)); done; ping -c 3 -W 5 ${o}`).join('\n')}\necho VBUS-PINGS-DONE\nsleep 25`;
  return bootLinuxVm(`${ip}/24`, script, `stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`, `${nic},netdev=n0,mac=52:54:00:00:00:0${ip.slice(-1)}`);
}

async function until(cond: () => boolean, ms: number, what: string, log: () => string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('QEMU VMs and TypeScript guests on one VXLAN segment across two vbus processes', { timeout: 300_000 }, () => {
  it('virtio-net-pci and e1000 VMs, venet and virtio-net guests: every host pings every other; tshark sees ARP and ICMP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbus-qemu-vxlan-'));
    const [pa, pb] = [await freePort(), await freePort()];
    // loopback carries 1550-byte datagrams, so the inner MTU is the VMs' 1500
    const common = ['--vxlan-mtu', '1550', '--listen', '127.0.0.1:0'];
    const a = serve([
      '--device',
      'venet',
      '--ip',
      `${HOSTS.a}/24`,
      '--vxlan',
      `42@127.0.0.1:${pb}`,
      '--vxlan-local',
      `127.0.0.1:${pa}`,
      '--pcap',
      join(dir, 'a.pcap'),
      ...common,
      '--ping',
      HOSTS.b,
      '--ping',
      HOSTS.vm1,
      '--ping',
      HOSTS.vm2,
    ]);
    const b = serve([
      '--device',
      'virtio-net',
      '--ip',
      `${HOSTS.b}/24`,
      '--vxlan',
      `42@127.0.0.1:${pa}`,
      '--vxlan-local',
      `127.0.0.1:${pb}`,
      '--pcap',
      join(dir, 'b.pcap'),
      ...common,
      '--ping',
      HOSTS.a,
      '--ping',
      HOSTS.vm2,
      '--ping',
      HOSTS.vm1,
    ]);
    const portOf = async (s: typeof a) => Number(/listening on 127\.0\.0\.1:(\d+)/.exec(await s.waitFor(/listening on 127\.0\.0\.1:\d+/))![1]);
    const vm1 = bootVm(HOSTS.vm1, 'virtio-net-pci', await portOf(a), [HOSTS.a, HOSTS.b, HOSTS.vm2]);
    const vm2 = bootVm(HOSTS.vm2, 'e1000', await portOf(b), [HOSTS.b, HOSTS.a, HOSTS.vm1]);
    try {
      for (const vm of [vm1, vm2]) await until(() => vm.output().includes('VBUS-PINGS-DONE'), 240_000, "the VM's pings", vm.output);
      for (const [vm, others] of [
        [vm1, [HOSTS.a, HOSTS.b, HOSTS.vm2]],
        [vm2, [HOSTS.b, HOSTS.a, HOSTS.vm1]],
      ] as const) {
        for (const o of others)
          expect(vm.output(), `ping ${o}:\n${vm.output()}`).toMatch(new RegExp(`--- ${o.replace(/\./g, '\\.')} ping statistics ---\\s+3 packets transmitted, 3 packets received`));
      }
      for (const ip of [HOSTS.b, HOSTS.vm1, HOSTS.vm2]) await a.waitFor(new RegExp(`ping ${ip.replace(/\./g, '\\.')}: \\d+ transmitted, 3 received`), 120_000);
      for (const ip of [HOSTS.a, HOSTS.vm2, HOSTS.vm1]) await b.waitFor(new RegExp(`ping ${ip.replace(/\./g, '\\.')}: \\d+ transmitted, 3 received`), 120_000);
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
      const [aIn, , aOut, , aDrops] = remoteRow(a.output(), `127.0.0.1:${pb}`);
      expect(aDrops).toBe('0');
      // each VM's 3 pings to 2 hosts across the tunnel, our 3 pings each way, ARP: at least 30 frames
      expect(aIn).toBeGreaterThanOrEqual(30);
      expect(aOut).toBeGreaterThanOrEqual(30);
      for (const side of ['a', 'b']) {
        const t = spawnSync('tshark', ['-r', join(dir, `${side}.pcap`), '-T', 'fields', '-e', 'arp.opcode', '-e', 'icmp.type', '-e', 'ip.src', '-e', 'ip.dst'], {
          encoding: 'utf8',
        });
        expect(t.status).toBe(0);
        const rows = t.stdout
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => l.split('\t'));
        expect(
          rows.some((r) => r[0] === '1'),
          `${side}: ARP request`,
        ).toBe(true);
        expect(
          rows.some((r) => r[0] === '2'),
          `${side}: ARP reply`,
        ).toBe(true);
        // every host's echo requests to every other host crossed both switches (the segment is one)
        for (const src of Object.values(HOSTS)) {
          for (const dst of Object.values(HOSTS)) {
            if (src === dst) continue;
            const local = side === 'a' ? [HOSTS.a, HOSTS.vm1] : [HOSTS.b, HOSTS.vm2];
            if (!local.includes(src) && !local.includes(dst)) continue; // neither end behind this switch
            expect(
              rows.some((r) => r[1] === '8' && r[2] === src && r[3] === dst),
              `${side}: echo request ${src} -> ${dst}`,
            ).toBe(true);
            expect(
              rows.some((r) => r[1] === '0' && r[2] === dst && r[3] === src),
              `${side}: echo reply ${dst} -> ${src}`,
            ).toBe(true);
          }
        }
      }
      expect(await vm1.exited).toBe(0);
      expect(await vm2.exited).toBe(0);
    } finally {
      vm1.kill();
      vm2.kill();
    }
  });
});
