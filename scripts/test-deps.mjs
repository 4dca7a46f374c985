#!/usr/bin/env node
// The system tools the test suite uses, found or installed before any test runs (`npm test` runs
// this as its `pretest` step). On a Debian machine where we are root, whatever is missing is
// installed with apt-get, once, quietly, with one progress line; anywhere else the run stops here
// with the exact list of what is missing and the command that installs it. No test skips for a
// missing tool: the suite either has every tool or does not start.
//
//   node scripts/test-deps.mjs            find, install what is missing (when root on Debian)
//   node scripts/test-deps.mjs --check    find only; exit 1 and say what is missing
//   node scripts/test-deps.mjs --list     print the requirements, one per line
//
// Requirements are one table: add a row when a test needs a new tool.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * What the tests need from the system: what it is for, how we find it, and the Debian package
 * that provides it. `command` is looked up on PATH; `file` must exist; `glob` is a directory and a
 * name prefix, at least one entry of which must exist.
 */
export const REQUIREMENTS = [
  { need: 'tshark', command: 'tshark', pkg: 'tshark', why: 'reads the pcap files the switch and `vbus serve --pcap` write' },
  { need: 'gcc', command: 'gcc', pkg: 'gcc', why: 'builds the C program that checks our virtqueue layout against Linux' },
  { need: 'libc headers', file: '/usr/include/stdio.h', pkg: 'libc6-dev', why: 'the same C program' },
  { need: 'linux/virtio_ring.h', file: '/usr/include/linux/virtio_ring.h', pkg: 'linux-libc-dev', why: "Linux's own virtqueue layout, the conformance reference" },
  { need: 'qemu-system-x86_64', command: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'boots a real Linux guest that pings our guests' },
  { need: 'a Linux kernel in /boot', glob: ['/boot', 'vmlinuz-'], pkg: 'linux-image-amd64', why: "the QEMU guest's kernel and its virtio-net modules" },
  { need: 'g++', command: 'g++', pkg: 'g++', why: 'node-gyp builds the native addon of @vbus/vhost-user (SCM_RIGHTS, mmap, eventfd, TAP)' },
  { need: 'make', command: 'make', pkg: 'make', why: 'node-gyp drives the addon build with make' },
  { need: 'python3', command: 'python3', pkg: 'python3', why: 'node-gyp (gyp) is written in Python' },
  { need: 'ip (iproute2)', command: 'ip', pkg: 'iproute2', why: 'the TAP tests make a network namespace and configure the TAP in it' },
  {
    need: 'ethtool',
    command: 'ethtool',
    pkg: 'ethtool',
    why: 'turns off checksum offload on the kernel vxlan device the VXLAN test joins (a veth underlay never completes inner checksums)',
  },
  { need: 'vde_switch', command: 'vde_switch', pkg: 'vde2', why: 'the VDE switch the VDE backend joins in its test' },
  { need: 'vde_plug', command: 'vde_plug', pkg: 'vde2', why: 'carries frames between the VDE backend and the switch on stdin/stdout' },
  { need: 'static busybox', file: '/bin/busybox', pkg: 'busybox-static', why: "the QEMU guest's userland (initramfs), and ping inside the VXLAN test's namespace" },
  { need: 'SeaBIOS', file: '/usr/share/seabios/bios.bin', pkg: 'seabios', why: "the BIOS of the v86 emulator's machine (v86's npm package ships none)" },
  { need: '32-bit static libc (gcc -m32)', file: '/usr/lib32/libc.a', pkg: 'gcc-multilib', why: 'builds the UDP echo client of the v86 guest, a static i386 binary' },
  {
    need: 'chromium',
    command: 'chromium',
    pkg: 'chromium',
    why: 'runs the browser demo headless (playwright-core drives /usr/bin/chromium): Web Worker guests over SharedArrayBuffer',
  },
  {
    need: 'apt-get download and dpkg-deb',
    command: 'dpkg-deb',
    pkg: 'dpkg',
    why: "scripts/v86-guest-assets.mjs fetches Debian's i386 kernel and busybox (dpkg --add-architecture i386) into .cache/v86-guest",
  },
];

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function present(req) {
  if (req.command) return onPath(req.command);
  if (req.file) return existsSync(req.file);
  const [dir, prefix] = req.glob;
  return existsSync(dir) && readdirSync(dir).some((name) => name.startsWith(prefix));
}

/** The requirements not met on this machine. */
export function missingRequirements() {
  return REQUIREMENTS.filter((req) => !present(req));
}

function installCommand(pkgs) {
  return `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function describe(missing) {
  return missing.map((r) => `  - ${r.need} (Debian package ${r.pkg}): ${r.why}`).join('\n');
}

function canInstall() {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root && existsSync('/etc/debian_version') && onPath('apt-get');
}

function run(args, log) {
  const r = spawnSync(args[0], args.slice(1), {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  log.push(`$ ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
  return r.status === 0;
}

function stop(message) {
  process.stderr.write(`\n${message}\n\n`);
  process.exit(1);
}

function main(argv) {
  if (argv.includes('--list')) {
    for (const r of REQUIREMENTS) process.stdout.write(`${r.pkg}\t${r.need}\t${r.why}\n`);
    return;
  }
  const missing = missingRequirements();
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((r) => r.pkg))];
  if (argv.includes('--check') || !canInstall()) {
    const why = argv.includes('--check') ? '' : ' (installing needs root on Debian; this is not)';
    stop(
      `The tests need system tools that this machine lacks${why}:\n${describe(missing)}\n\nInstall them, as root on Debian:\n  ${installCommand(pkgs)}\nthen run the tests again.`,
    );
  }
  process.stderr.write(`test set-up: installing ${pkgs.join(', ')} with apt-get (once; a minute or two)...\n`);
  const log = [];
  // tshark's package asks whether non-root users may capture; answer it beforehand.
  spawnSync('debconf-set-selections', { input: 'wireshark-common wireshark-common/install-setuid boolean false\n' });
  // A mirror in the middle of a sync fails `apt-get update` for one index ("File has unexpected
  // size"): try again after a pause, then install anyway (the other indexes are fresh, and the
  // check below decides whether everything the tests need is there).
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (run(['apt-get', 'update', '-qq'], log)) break;
    if (attempt < 3) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20_000);
  }
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...pkgs], log);
  const still = missingRequirements();
  if (still.length > 0) {
    const logFile = join(tmpdir(), 'vbus-test-deps.log');
    writeFileSync(logFile, log.join('\n'));
    stop(
      `test set-up: apt-get could not provide everything the tests need (full log: ${logFile}).\nStill missing:\n${describe(still)}\n\nInstall them by hand:\n  ${installCommand(pkgs)}`,
    );
  }
  process.stderr.write(`test set-up: installed ${pkgs.join(', ')}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
