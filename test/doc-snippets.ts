// Docs whose code is the examples' code. A snippet in a Markdown file is a marker line
// `<!-- snippet: PATH#REGION -->` followed by a ```ts block holding the lines between
// `// #region REGION` and `// #endregion REGION` of PATH (relative to the repository, dedented).
// The examples are type-checked and run by the tests, so the snippets are too;
// test/doc-snippets.test.ts checks that every doc agrees with its files.
//
//   npx tsx test/doc-snippets.ts docs/embedding.md ...     (re)fill the blocks from the files
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SNIPPET = /^<!-- snippet: (\S+)#(\S+) -->\n```ts\n([\s\S]*?)^```$/gm;

/** The text of region `name` of `file` (relative to the repository), dedented, without a final newline. */
export function regionOf(file: string, name: string): string {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`);
  if (start < 0 || end < 0) throw new Error(`${file} has no region ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return body.map((l) => l.slice(indent)).join('\n');
}

/** Every snippet of a Markdown text: its file, region and current body. */
export function snippetsOf(markdown: string): Array<{ file: string; region: string; body: string }> {
  return [...markdown.matchAll(SNIPPET)].map((m) => ({ file: m[1]!, region: m[2]!, body: m[3]!.replace(/\n$/, '') }));
}

/** The Markdown with every snippet filled from its file's region. */
export function fillSnippets(markdown: string): string {
  return markdown.replace(SNIPPET, (_, file: string, region: string) => `<!-- snippet: ${file}#${region} -->\n\`\`\`ts\n${regionOf(file, region)}\n\`\`\``);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const path of process.argv.slice(2)) writeFileSync(path, fillSnippets(readFileSync(path, 'utf8')));
}
