#!/usr/bin/env node
// Sets one version on every package of the repository (they are released together): each
// packages/*/package.json's `version`, every @vbus/* range in their dependencies and
// peerDependencies (`^VERSION`), and the root package.json. Then run `npm install` to refresh the
// lockfile and add the CHANGELOG entry.
//
//   node scripts/set-version.mjs 0.2.0
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const version = process.argv[2];
if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error('usage: node scripts/set-version.mjs MAJOR.MINOR.PATCH[-PRERELEASE]');
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const files = [join(root, 'package.json'), ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'package.json'))];
for (const file of files) {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.version = version;
  for (const field of ['dependencies', 'peerDependencies', 'devDependencies']) {
    for (const name of Object.keys(json[field] ?? {})) if (name.startsWith('@vbus/')) json[field][name] = `^${version}`;
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`${json.name} ${version}`);
}
