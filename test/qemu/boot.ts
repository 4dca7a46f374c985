// Boots Debian's kernel with the busybox initramfs of ./initramfs.ts under QEMU (TCG), one NIC on
// the netdev given, the console on stdio. Shared by the tests that put a real Linux VM on a segment.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs, findKernel } from './initramfs.js';

/** A running VM: its console so far, its exit code once it powers off, and a way to kill it. */
export interface BootedVm {
  output: () => string;
  exited: Promise<number>;
  kill: () => void;
}

/**
 * Boot a VM whose eth0 has `ip` (with prefix) and whose /init runs `script`; `netdev` is QEMU's
 * `-netdev` value (id n0), `device` its `-device` value (e.g. `virtio-net-pci,netdev=n0,mac=...`).
 */
export function bootLinuxVm(ip: string, script: string, netdev: string, device: string): BootedVm {
  const { vmlinuz, modules } = findKernel();
  const dir = mkdtempSync(join(tmpdir(), 'vbus-qemu-'));
  const initrd = join(dir, 'initrd.cpio');
  writeFileSync(initrd, buildInitramfs(modules, ip, script));
  const qemu = spawn('qemu-system-x86_64', [
    '-accel',
    'tcg',
    '-m',
    '256',
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-serial',
    'stdio',
    '-kernel',
    vmlinuz,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 panic=-1 quiet',
    '-netdev',
    netdev,
    '-device',
    device,
  ]);
  let out = '';
  qemu.stdout.on('data', (d) => (out += d));
  qemu.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number>((r) => qemu.once('exit', (c) => r(c ?? -1)));
  return { output: () => out, exited, kill: () => qemu.kill('SIGKILL') };
}
