import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

// common/ runs anywhere (Node, browsers, an embedder's realm): it may not reach Node's modules or
// the node/ folders, so the same device code can run in a Web Worker.
it('no module under packages/*/src/common imports node: builtins or a node/ folder', () => {
  const offenders: string[] = [];
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const common = join(ROOT, 'packages', pkg, 'src', 'common');
    for (const file of walk(common)) {
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || /(^|\/)node(\/|$)/.test(spec) || /^@vbus\/[^/]+\/node/.test(spec)) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
  }
  expect(offenders).toEqual([]);
});
