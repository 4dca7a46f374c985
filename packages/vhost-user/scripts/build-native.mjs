#!/usr/bin/env node
// Builds the native addon (native/vbus_native.cc) with node-gyp, from source, against the headers
// of the Node that runs this script: /usr/include/node when the system's Node has them (Debian's
// nodejs), else node-gyp's own lookup. Run by `npm test`'s pretest step and, on first use, by
// src/node/native.ts. Builds into a temporary directory and renames the result into place, so
// concurrent runs (test workers) never load a half-written file.
//
//   node packages/vhost-user/scripts/build-native.mjs           build if missing or older than the source
//   node packages/vhost-user/scripts/build-native.mjs --force   rebuild
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nativeDir = join(here, '..', 'native');
/** Where the built addon goes (src/node/native.ts loads it from here). */
export const ADDON_PATH = join(nativeDir, 'build', 'vbus_native.node');

function upToDate() {
  if (!existsSync(ADDON_PATH)) return false;
  const built = statSync(ADDON_PATH).mtimeMs;
  return ['vbus_native.cc', 'binding.gyp'].every((f) => statSync(join(nativeDir, f)).mtimeMs <= built);
}

/** Build the addon unless it is up to date; throws with node-gyp's output when the build fails. */
export function buildNative({ force = false, quiet = true } = {}) {
  if (!force && upToDate()) return ADDON_PATH;
  const require = createRequire(import.meta.url);
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const work = mkdtempSync(join(nativeDir, '.build-'));
  try {
    cpSync(join(nativeDir, 'vbus_native.cc'), join(work, 'vbus_native.cc'));
    cpSync(join(nativeDir, 'binding.gyp'), join(work, 'binding.gyp'));
    const args = [gyp, 'rebuild'];
    if (existsSync('/usr/include/node/node_api.h') && existsSync('/usr/include/node/common.gypi')) args.push('--nodedir=/usr');
    const r = spawnSync(process.execPath, args, { cwd: work, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
    if (r.status !== 0) {
      throw new Error(
        `building the vbus native addon failed (node-gyp exit ${r.status ?? r.signal}); needs g++, make and python3:\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`,
      );
    }
    mkdirSync(dirname(ADDON_PATH), { recursive: true });
    const tmp = `${ADDON_PATH}.${process.pid}.tmp`;
    cpSync(join(work, 'build', 'Release', 'vbus_native.node'), tmp);
    renameSync(tmp, ADDON_PATH);
    if (!quiet) console.log(`built ${ADDON_PATH}`);
    return ADDON_PATH;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    buildNative({ force: process.argv.includes('--force'), quiet: false });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
