// Every code snippet a doc quotes is its example's current text (see test/doc-snippets.ts; the
// examples themselves are type-checked by tsc and run by their own tests). Refill after editing
// an example: npx tsx test/doc-snippets.ts <doc.md>
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { regionOf, snippetsOf } from './doc-snippets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      if (['node_modules', 'dist', 'api', 'results', '.cache'].includes(name)) return [];
      return statSync(p).isDirectory() ? walk(p) : name.endsWith('.md') ? [relative(ROOT, p)] : [];
    });
  return ['README.md', ...walk(join(ROOT, 'docs')), ...walk(join(ROOT, 'examples')), ...walk(join(ROOT, 'packages'))];
}

describe('doc snippets', () => {
  it('the guides quote their examples (and a snippet names a file and region that exist)', () => {
    const count = (doc: string) => snippetsOf(readFileSync(join(ROOT, doc), 'utf8')).length;
    expect(count('docs/embedding.md')).toBeGreaterThanOrEqual(15);
    expect(count('docs/embedding-web.md')).toBeGreaterThanOrEqual(8);
    expect(count('docs/plugin-guide.md')).toBeGreaterThanOrEqual(12);
  });

  for (const doc of markdownFiles()) {
    const snippets = snippetsOf(readFileSync(join(ROOT, doc), 'utf8'));
    if (snippets.length === 0) continue;
    it(`${doc}: every snippet is its region's current text`, () => {
      for (const s of snippets) expect(s.body, `${s.file}#${s.region}`).toBe(regionOf(s.file, s.region));
    });
  }
});
