#!/usr/bin/env node
// The `vbus` command: runs the compiled CLI (dist/main.js). In a clone of the repository, build
// it first (`npm run build`; `npm start` does it for you).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('vbus: the CLI is not built (no dist/main.js): run `npm run build` in the repository first');
  process.exit(1);
}
await import(main.href);
