import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
    if (!existsSync(common)) continue;
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

// browser/ runs in a page or a Web Worker: like common/, it may not reach Node's modules or node/.
it('no module under packages/*/src/browser imports node: builtins or a node/ folder', () => {
  const offenders: string[] = [];
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const dir = join(ROOT, 'packages', pkg, 'src', 'browser');
    if (!existsSync(dir)) continue;
    for (const file of walk(dir)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || /(^|\/)node(\/|$)/.test(spec) || /^@vbus\/[^/]+\/node/.test(spec)) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
  }
  expect(offenders).toEqual([]);
});

// The import graph: core ← net ← {venet, virtio-compat} ← guest-nic ← cli, bench, soak; fuzz and
// examples sit on the packages; vhost-user (a transport for the virtio-net device) sits on
// virtio-compat and net, beside venet. Nothing imports back up, the two NIC plugins never import each
// other, and the leaves never import one another (bench may not reach into cli/). guest-nic/ is
// the guest-NIC worker and its host handle, shared by cli/ and bench/.
const PACKAGES = ['core', 'net', 'venet', 'virtio-compat', 'vhost-user', 'guest-nic', 'cli'];
const ALLOWED: Record<string, string[]> = {
  core: [],
  net: ['core'],
  venet: ['core', 'net'],
  'virtio-compat': ['core', 'net'],
  'vhost-user': ['core', 'net', 'virtio-compat'],
  'guest-nic': ['core', 'net', 'venet', 'virtio-compat'],
  cli: ['core', 'net', 'venet', 'virtio-compat', 'vhost-user', 'guest-nic'],
  bench: ['core', 'net', 'venet', 'virtio-compat', 'guest-nic'],
  soak: ['core', 'net', 'venet', 'virtio-compat', 'guest-nic'],
  fuzz: ['core', 'net', 'venet', 'virtio-compat', 'vhost-user'],
  examples: ['core', 'net', 'venet', 'virtio-compat'],
};

/** The node of the graph a file belongs to: a package name or a top-level folder. */
function nodeOf(file: string): string | undefined {
  const rel = relative(ROOT, file).split('/');
  return rel[0] === 'packages' ? rel[1] : rel[0] in ALLOWED ? rel[0] : undefined;
}

/** The node an import specifier of `file` reaches, or undefined for third-party and node: modules. */
function targetOf(file: string, spec: string): string | undefined {
  const pkg = /^@vbus\/([^/]+)/.exec(spec);
  if (pkg) return pkg[1];
  if (!spec.startsWith('.')) return undefined;
  return nodeOf(join(file, '..', spec));
}

it('imports follow core ← net ← {venet, virtio-compat} ← guest-nic ← cli, bench, soak (fuzz, examples on the packages)', () => {
  const offenders: string[] = [];
  const roots = [
    ...PACKAGES.map((p) => join(ROOT, 'packages', p, 'src')),
    ...Object.keys(ALLOWED)
      .filter((n) => !PACKAGES.includes(n))
      .map((n) => join(ROOT, n)),
  ];
  for (const root of roots) {
    for (const file of [...walk(root), ...walkTests(root)]) {
      const from = nodeOf(file)!;
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const to = targetOf(file, m[1]!);
        if (to !== undefined && to !== from && !ALLOWED[from]!.includes(to)) offenders.push(`${relative(ROOT, file)} (${from}) imports ${m[1]} (${to})`);
      }
    }
  }
  expect(offenders).toEqual([]);
});

/** Test files of the packages, which obey the same graph as the code beside them. */
function walkTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walkTests(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

it('no helper module (a non-test file) imports vitest: test runners stay in test files', () => {
  const offenders: string[] = [];
  for (const root of [join(ROOT, 'packages'), join(ROOT, 'bench'), join(ROOT, 'soak'), join(ROOT, 'fuzz')]) {
    for (const file of walk(root)) {
      if (file.includes('/node_modules/') || file.includes('/dist/')) continue;
      if (/from\s+['"]vitest['"]/.test(readFileSync(file, 'utf8'))) offenders.push(relative(ROOT, file));
    }
  }
  expect(offenders).toEqual([]);
});
