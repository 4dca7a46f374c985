// The package manifests as a release needs them: one version for all, @vbus/* ranges that match
// it, exports maps whose every subpath resolves the sources for the repository's tools and the
// compiled files for everyone else, and every package wired into the build, the API reference
// and the workspaces. test/consumer.test.ts then installs the packed result.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = readdirSync(join(ROOT, 'packages')).filter((p) => existsSync(join(ROOT, 'packages', p, 'package.json')));

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: { node?: string };
  files?: string[];
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  workspaces?: string[];
}
/** JSON, or JSONC whose comments are whole lines (the tsconfig files). */
const read = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as T;
const manifest = (pkg: string) => read<Manifest>(join(ROOT, 'packages', pkg, 'package.json'));
const root = read<Manifest>(join(ROOT, 'package.json'));

it('every package has the root version, and every @vbus/* range is ^ that version', () => {
  for (const pkg of PACKAGES) {
    const m = manifest(pkg);
    expect(m.name).toBe(`@vbus/${pkg}`);
    expect(m.version, m.name).toBe(root.version);
    expect(m.private, m.name).toBeUndefined();
    for (const deps of [m.dependencies ?? {}, m.peerDependencies ?? {}])
      for (const [name, range] of Object.entries(deps)) if (name.startsWith('@vbus/')) expect(range, `${m.name} -> ${name}`).toBe(`^${root.version}`);
  }
});

it('every exports subpath lists @vbus/source, types and import, in that order, and the source file exists', () => {
  for (const pkg of PACKAGES) {
    for (const [sub, target] of Object.entries(manifest(pkg).exports ?? {})) {
      if (sub === './package.json') continue;
      expect(typeof target, `${pkg} ${sub}`).toBe('object');
      const t = target as Record<string, string>;
      expect(Object.keys(t), `${pkg} ${sub}`).toEqual(['@vbus/source', 'types', 'import']);
      expect(existsSync(join(ROOT, 'packages', pkg, t['@vbus/source']!)), `${pkg} ${sub}`).toBe(true);
      const base = t['@vbus/source']!.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '');
      expect(t.types).toBe(`${base}.d.ts`);
      expect(t.import).toBe(`${base}.js`);
    }
  }
});

it('every package declares engines, a files list without tests, and a README', () => {
  for (const pkg of PACKAGES) {
    const m = manifest(pkg);
    expect(m.engines?.node, m.name).toBe(root.engines?.node);
    expect(m.files, m.name).toContain('dist');
    expect(m.files, m.name).toContain('!src/**/*.test.ts');
    expect(existsSync(join(ROOT, 'packages', pkg, 'README.md')), m.name).toBe(true);
  }
});

it('every package is a workspace, in the build, and every public entry point is in the API reference', () => {
  const build = read<{ references: Array<{ path: string }> }>(join(ROOT, 'tsconfig.build.json'));
  const typedoc = read<{ entryPoints: string[] }>(join(ROOT, 'tools', 'typedoc.json'));
  for (const pkg of PACKAGES) {
    expect(root.workspaces, pkg).toContain(`packages/${pkg}`);
    expect(
      build.references.map((r) => r.path),
      pkg,
    ).toContain(`packages/${pkg}`);
    for (const [sub, target] of Object.entries(manifest(pkg).exports ?? {})) {
      if (typeof target === 'string') continue;
      expect(typedoc.entryPoints, `${pkg} ${sub}`).toContain(`../packages/${pkg}/${target['@vbus/source']!.replace(/^\.\//, '')}`);
    }
  }
});

// The code and docs explain themselves within the repository: a design note lives in
// docs/architecture.md, not in a document a reader of the package cannot open.
it('no source or doc file cites a design document outside the repository', () => {
  const offenders: string[] = [];
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      if (['node_modules', 'dist', 'api', 'results'].includes(name)) return [];
      return statSync(p).isDirectory() ? walk(p) : /\.(ts|mjs|md|cc)$/.test(name) ? [p] : [];
    });
  for (const dir of ['packages', 'test', 'bench', 'fuzz', 'soak', 'examples', 'docs', 'scripts']) {
    for (const file of walk(join(ROOT, dir))) {
      if (file === fileURLToPath(import.meta.url)) continue;
      if (/DESIGN\.md|STYLE\.md|\/work\/shared/.test(readFileSync(file, 'utf8'))) offenders.push(relative(ROOT, file));
    }
  }
  expect(offenders).toEqual([]);
});
