// Builds a tiny initramfs (newc cpio, written here) with busybox and the virtio-net (and e1000) modules of the
// machine's Debian kernel, whose /init configures eth0 and runs the commands it is given.
import { readFileSync, readdirSync, existsSync } from 'node:fs';

// in dependency order (modules.dep)
const MODULES = [
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/drivers/net/ethernet/intel/e1000/e1000.ko',
];

/** The newest installed kernel with its modules, or an explanation of what is missing. */
export function findKernel(): { vmlinuz: string; modules: string } {
  const versions = existsSync('/lib/modules') ? readdirSync('/lib/modules').filter((v) => existsSync(`/boot/vmlinuz-${v}`)) : [];
  const v = versions.sort().at(-1);
  if (!v) throw new Error('no kernel: install Debian packages linux-image-amd64, qemu-system-x86 and busybox-static (npm test installs them: scripts/test-deps.mjs)');
  return { vmlinuz: `/boot/vmlinuz-${v}`, modules: `/lib/modules/${v}` };
}

/** A newc cpio archive of the given files (path -> contents, mode; `rdev` [major, minor] for a device node). */
export function cpioNewc(entries: Array<{ path: string; data?: Uint8Array; mode: number; rdev?: [number, number] }>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TextEncoder();
  let ino = 1;
  const pad4 = (n: number) => (4 - (n % 4)) % 4;
  const push = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const nameBytes = enc.encode(name + '\0');
    const header = '070701' + [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex).join('');
    chunks.push(enc.encode(header), nameBytes, new Uint8Array(pad4(110 + nameBytes.length)), data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) push(e.path, e.mode, e.data ?? new Uint8Array(0), e.rdev);
  push('TRAILER!!!', 0, new Uint8Array(0));
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * An initramfs whose /init brings up eth0 with `ip` and runs `script` (busybox sh), then powers
 * off. `extra` files go in as executables (e.g. a static helper at `bin/NAME`).
 */
export function buildInitramfs(modulesDir: string, ip: string, script: string, extra: Array<{ path: string; data: Uint8Array }> = []): Uint8Array {
  const DIR = 0o040755;
  const FILE = 0o100755;
  const busybox = readFileSync('/bin/busybox');
  const init = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
${MODULES.map((m) => `insmod /mod/${m.split('/').pop()}`).join('\n')}
ip link set lo up
ip link set eth0 up
ip addr add ${ip} dev eth0
echo VBUS-GUEST-UP
${script}
echo VBUS-GUEST-DONE
poweroff -f
`;
  return cpioNewc([
    { path: 'bin', mode: DIR },
    { path: 'proc', mode: DIR },
    { path: 'sys', mode: DIR },
    { path: 'mod', mode: DIR },
    { path: 'bin/busybox', mode: FILE, data: busybox },
    { path: 'init', mode: FILE, data: new TextEncoder().encode(init) },
    ...MODULES.map((m) => ({ path: `mod/${m.split('/').pop()}`, mode: 0o100644, data: readFileSync(`${modulesDir}/${m}`) })),
    ...extra.map((e) => ({ path: e.path, mode: FILE, data: e.data })),
  ]);
}
