// docs/embedding-web.md's snippets are regions of the examples (type-checked by tsc, run by
// test/v86-guest.test.ts and test/browser.test.ts): each block must be its region's current text.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { regionOf, snippetsOf } from './doc-snippets.js';

it('every snippet in docs/embedding-web.md is the text of its example region (refill: npx tsx test/doc-snippets.ts docs/embedding-web.md)', () => {
  const snippets = snippetsOf(readFileSync(new URL('../docs/embedding-web.md', import.meta.url), 'utf8'));
  expect(snippets.map((s) => `${s.file}#${s.region}`)).toEqual([
    'examples/v86/v86-lan.ts#v86-attach',
    'examples/v86/v86-lan.ts#ts-guest',
    'examples/browser/server.ts#headers',
    'examples/browser/server.ts#bundle',
    'examples/browser/page.ts#page-bus',
    'examples/browser/page.ts#spawn',
    'examples/browser/guest-worker.ts#guest',
    'examples/browser/v86-guest.ts#page-v86',
  ]);
  for (const s of snippets) expect(s.body, `${s.file}#${s.region}`).toBe(regionOf(s.file, s.region));
});
