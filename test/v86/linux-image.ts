// The 32-bit Linux guest for v86: Debian's i386 kernel and busybox-static:i386 (fetched and unpacked
// by scripts/v86-guest-assets.mjs), an initramfs built here whose /init loads the NIC driver,
// gives eth0 the MAC and address it is told, runs a script and powers off; a static i386 UDP echo
// client (udp-echo.c) goes in with it. SeaBIOS comes from Debian's seabios package.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioNewc } from '../qemu/initramfs.js';

/** SeaBIOS and its VGA BIOS from Debian's seabios package (v86's npm package ships no BIOS). */
export const SEABIOS = '/usr/share/seabios/bios.bin';
export const VGABIOS = '/usr/share/seabios/vgabios-stdvga.bin';

/** The unpacked i386 packages (paths written by scripts/v86-guest-assets.mjs). */
export interface V86GuestAssets {
  kernelPackage: string;
  busyboxPackage: string;
  vmlinuz: string;
  modules: string;
  busybox: string;
}

/** Run the set-up script (fetches Debian's i386 kernel and busybox once into .cache/v86-guest). */
export function v86GuestAssets(): V86GuestAssets {
  const script = new URL('../../scripts/v86-guest-assets.mjs', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/v86-guest-assets.mjs failed:\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as V86GuestAssets;
}

/** The emulated NIC v86 gives the guest, and the kernel modules that drive it. */
export type V86NicType = 'ne2k' | 'virtio';
const NIC_MODULES: Record<V86NicType, string[]> = { ne2k: ['ne2k-pci'], virtio: ['virtio_pci', 'virtio_net'] };

/**
 * The module files that `wanted` need, dependencies first. Debian's .deb has no modules.dep (depmod
 * runs at install), so the order comes from each module's `depends` field (`modinfo -F depends`).
 */
export function moduleLoadOrder(modulesDir: string, wanted: string[]): string[] {
  const files = execFileSync('find', [join(modulesDir, 'kernel'), '-name', '*.ko'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const byName = new Map(files.map((f) => [f.split('/').pop()!.replace(/\.ko$/, '').replace(/-/g, '_'), f]));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const key = name.replace(/-/g, '_');
    if (seen.has(key)) return;
    seen.add(key);
    const file = byName.get(key);
    if (file === undefined) throw new Error(`kernel module ${name} is not in ${modulesDir}`);
    const deps = execFileSync('modinfo', ['-F', 'depends', file], { encoding: 'utf8' }).trim();
    for (const d of deps.split(',').filter((d) => d !== '')) visit(d);
    order.push(file);
  };
  for (const w of wanted) visit(w);
  return order;
}

/** Build udp-echo.c as a static i386 binary (gcc -m32 -static; Debian's gcc-multilib). */
export function buildUdpEcho(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vbus-v86-'));
  try {
    const out = join(dir, 'udp-echo');
    const cc = spawnSync('gcc', ['-m32', '-static', '-O2', '-o', out, new URL('./udp-echo.c', import.meta.url).pathname], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc -m32 -static udp-echo.c failed (Debian package gcc-multilib): ${cc.stderr}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the guest's /init does once eth0 is up. */
export interface V86GuestScript {
  nic: V86NicType;
  /** eth0's MAC: the switch port accepts only this source (v86 picks a random one otherwise). */
  mac: string;
  /** eth0's address with prefix, e.g. `192.0.2.2/24`. */
  ip: string;
  /** busybox sh commands; `/bin/udp-echo DEST PORT MIN MAX` is there. */
  script: string;
}

/** The initramfs (newc cpio) of the v86 guest. Its console is ttyS0; it prints VBUS-GUEST-UP and VBUS-GUEST-DONE. */
export function buildV86Initramfs(assets: V86GuestAssets, guest: V86GuestScript): Uint8Array {
  const DIR = 0o040755;
  const FILE = 0o100755;
  const modules = moduleLoadOrder(assets.modules, NIC_MODULES[guest.nic]);
  const init = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
${modules.map((m) => `insmod /mod/${m.split('/').pop()}`).join('\n')}
ip link set lo up
ip link set eth0 address ${guest.mac}
ip link set eth0 up
ip addr add ${guest.ip} dev eth0
echo VBUS-GUEST-UP
${guest.script}
echo VBUS-GUEST-DONE
poweroff -f
`;
  return cpioNewc([
    { path: 'bin', mode: DIR },
    { path: 'proc', mode: DIR },
    { path: 'sys', mode: DIR },
    { path: 'dev', mode: DIR },
    // the kernel opens /dev/console for init before anything could mount devtmpfs
    { path: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { path: 'mod', mode: DIR },
    { path: 'bin/busybox', mode: FILE, data: readFileSync(assets.busybox) },
    { path: 'bin/udp-echo', mode: FILE, data: buildUdpEcho() },
    { path: 'init', mode: FILE, data: new TextEncoder().encode(init) },
    ...modules.map((m) => ({ path: `mod/${m.split('/').pop()}`, mode: 0o100644, data: readFileSync(m) })),
  ]);
}
