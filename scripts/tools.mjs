#!/usr/bin/env node
// Runs a repository tool that needs TypeScript 5.x's JavaScript API (eslint with typescript-eslint,
// typedoc): TypeScript 7, the compiler of this repository, ships no JS API, and typescript-eslint
// and typedoc cannot be installed beside it (their dependencies import `typescript` from wherever
// npm hoists them). So they live in tools/, a separate npm project with its own lockfile that pins
// typescript 5.9 for them only; this script installs it on first use (npm ci --prefix tools, and
// again when tools/package-lock.json changes), then runs the tool's bin from tools/node_modules.
//
//   node scripts/tools.mjs eslint [args...]
//   node scripts/tools.mjs typedoc [args...]
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tools = join(root, 'tools');
const installed = join(tools, 'node_modules', '.package-lock.json');
const lock = join(tools, 'package-lock.json');

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  const r = spawnSync('npm', ['ci', '--prefix', tools, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const [tool, ...args] = process.argv.slice(2);
const bins = { eslint: 'eslint/bin/eslint.js', typedoc: 'typedoc/bin/typedoc' };
if (!tool || !(tool in bins)) {
  console.error(`usage: node scripts/tools.mjs <${Object.keys(bins).join('|')}> [args...]`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(tools, 'node_modules', bins[tool]), ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
