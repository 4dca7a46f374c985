#!/usr/bin/env node
// The 32-bit Linux guest that runs inside v86 (an x86 emulator that emulates only 32-bit CPUs): Debian's
// i386 kernel (linux-image-*-686, its NIC modules uncompressed) and busybox-static:i386. The packages
// are fetched with apt-get download (after `dpkg --add-architecture i386` and `apt-get update`) into
// .cache/v86-guest/ (git-ignored) and unpacked there, once; later runs find them and return at once.
// The machine's own packages are not touched: nothing is installed.
//
//   node scripts/v86-guest-assets.mjs          fetch and unpack when missing; print the asset paths as JSON
//
// Used by test/v86-guest.test.ts and examples/v86 (through `v86GuestAssets()`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Where the packages and their unpacked trees live. */
export const CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.cache', 'v86-guest');

/** The kernel's meta-package: it depends on the versioned image (linux-image-6.1.0-NN-686). */
const KERNEL_META = 'linux-image-686:i386';
const BUSYBOX = 'busybox-static:i386';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function fail(message) {
  throw new Error(`v86 guest set-up: ${message}`);
}

/** The versioned kernel image package the meta-package depends on, or undefined if apt does not know i386. */
function kernelPackage() {
  const r = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', KERNEL_META]);
  const m = /Depends: (linux-image-[0-9][^\s:]*-686)(?::i386)?/.exec(r.out);
  return m ? `${m[1]}:i386` : undefined;
}

function ensureI386() {
  if (run('dpkg', ['--print-foreign-architectures']).out.split(/\s+/).includes('i386') && kernelPackage()) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) fail(`Debian's i386 packages are needed; as root run: dpkg --add-architecture i386 && apt-get update`);
  const add = run('dpkg', ['--add-architecture', 'i386']);
  if (!add.ok) fail(`dpkg --add-architecture i386 failed:\n${add.out}`);
  // apt-get update exits non-zero when any one index fails (a security mirror mid-sync); what matters
  // is whether the i386 kernel is known afterwards.
  const upd = run('apt-get', ['update', '-qq']);
  if (!kernelPackage()) fail(`apt-get update did not make ${KERNEL_META} known:\n${upd.out}`);
}

function findDeb(dir, prefix) {
  return readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('_i386.deb'));
}

/** The unpacked guest: kernel image, modules directory and busybox binary (all i386). */
export function v86GuestAssets() {
  const stamp = join(CACHE_DIR, 'assets.json');
  if (existsSync(stamp)) {
    const a = JSON.parse(readFileSync(stamp, 'utf8'));
    if ([a.vmlinuz, a.modules, a.busybox].every((p) => existsSync(p))) return a;
  }
  ensureI386();
  let kernel = kernelPackage();
  mkdirSync(CACHE_DIR, { recursive: true });
  const debs = join(CACHE_DIR, 'debs');
  mkdirSync(debs, { recursive: true });
  let dl = run('apt-get', ['download', kernel, BUSYBOX], { cwd: debs });
  if (!dl.ok) {
    // a stale index names versions the mirror no longer has: refresh it once and try again
    run('apt-get', ['update', '-qq']);
    kernel = kernelPackage() ?? kernel;
    dl = run('apt-get', ['download', kernel, BUSYBOX], { cwd: debs });
  }
  const kernelName = kernel.replace(/:i386$/, '');
  const kdeb = findDeb(debs, `${kernelName}_`);
  const bdeb = findDeb(debs, 'busybox-static_');
  if (!kdeb || !bdeb) fail(`apt-get download ${kernel} ${BUSYBOX} failed:\n${dl.out}`);
  const root = join(CACHE_DIR, 'root');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const deb of [kdeb, bdeb]) {
    const x = run('dpkg-deb', ['-x', join(debs, deb), root]);
    if (!x.ok) fail(`dpkg-deb -x ${deb} failed:\n${x.out}`);
  }
  const version = kernelName.replace(/^linux-image-/, '');
  const assets = {
    kernelPackage: kdeb,
    busyboxPackage: bdeb,
    vmlinuz: join(root, 'boot', `vmlinuz-${version}`),
    modules: join(root, 'lib', 'modules', version),
    busybox: join(root, 'bin', 'busybox'),
  };
  for (const p of [assets.vmlinuz, assets.modules, assets.busybox]) if (!existsSync(p)) fail(`${p} is not in the unpacked packages`);
  writeFileSync(stamp, JSON.stringify(assets, null, 2));
  return assets;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(`${JSON.stringify(v86GuestAssets(), null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
