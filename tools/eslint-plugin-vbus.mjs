// The repository's own import rules, as an ESLint plugin (no resolver dependency: the packages'
// imports are ESM specifiers with explicit .js extensions that map to .ts sources, so resolution
// here is a few lines).
//
// - declared-dependencies: a file under packages/<name>/ imports only node: builtins, its own
//   package (relative paths) and the packages its package.json declares (dependencies or
//   peerDependencies); so what `npm install` gives a user is what the code needs.
// - no-cycle: no relative import leads back to the importing file (a cycle makes module
//   initialisation order matter, and breaks the one-way layering inside a package).
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const manifests = new Map();
/** The package.json that owns `file`, parsed, with its directory. */
function manifestOf(file) {
  let dir = dirname(file);
  for (;;) {
    if (manifests.has(dir)) return manifests.get(dir);
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const m = { dir, json: JSON.parse(readFileSync(p, 'utf8')) };
      manifests.set(dir, m);
      return m;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The package name of a bare specifier: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const builtins = new Set(builtinModules);

/** Specifiers of static imports, re-exports and dynamic imports with a literal argument. */
function specifiersOf(node) {
  if ((node.type === 'ImportDeclaration' || node.type === 'ExportAllDeclaration' || node.type === 'ExportNamedDeclaration') && node.source) return [node.source];
  if (node.type === 'ImportExpression' && node.source.type === 'Literal' && typeof node.source.value === 'string') return [node.source];
  return [];
}

const declaredDependencies = {
  meta: { type: 'problem', docs: { description: 'a package imports only what its package.json declares' }, schema: [] },
  create(context) {
    const m = manifestOf(context.filename);
    if (!m || !m.json.name || m.json.private) return {};
    const declared = new Set([m.json.name, ...Object.keys(m.json.dependencies ?? {}), ...Object.keys(m.json.peerDependencies ?? {})]);
    const isTest = /\.test\.ts$/.test(context.filename);
    const check = (node) => {
      for (const source of specifiersOf(node)) {
        const spec = source.value;
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        // tests run in the repository, with its devDependencies (vitest, fast-check)
        if (isTest) continue;
        // type-only imports vanish from the JavaScript but not from the .d.ts: they count too
        const name = packageName(spec);
        if (!declared.has(name))
          context.report({ node: source, message: `${m.json.name} imports '${spec}' but its package.json does not declare '${name}' (dependencies or peerDependencies)` });
      }
    };
    return { ImportDeclaration: check, ExportAllDeclaration: check, ExportNamedDeclaration: check, ImportExpression: check };
  },
};

const importsCache = new Map();
/** The files `file` imports by relative specifier (.js resolved to .ts/.mts when that exists). */
function relativeImports(file) {
  if (importsCache.has(file)) return importsCache.get(file);
  const out = [];
  importsCache.set(file, out);
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  // static imports and re-exports that exist at run time (`import type` is erased: not a cycle)
  for (const match of text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?from\s*['"](\.[^'"]+)['"]/gms)) {
    const target = resolveRelative(file, match[1]);
    if (target) out.push(target);
  }
  return out;
}
function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base]) if (existsSync(candidate)) return candidate;
  return undefined;
}

const noCycle = {
  meta: { type: 'problem', docs: { description: 'no import cycle between the modules of a package' }, schema: [] },
  create(context) {
    const self = context.filename;
    const check = (node) => {
      if (node.importKind === 'type' || node.exportKind === 'type') return;
      for (const source of specifiersOf(node)) {
        if (!source.value.startsWith('.')) continue;
        const start = resolveRelative(self, source.value);
        if (!start) continue;
        // depth-first search from the imported file back to this one
        const seen = new Set();
        const stack = [[start, [start]]];
        while (stack.length) {
          const [file, path] = stack.pop();
          if (file === self) {
            context.report({ node: source, message: `import cycle: ${[self, ...path].map((p) => p.slice(p.lastIndexOf('/packages/') + 1 || 0)).join(' -> ')}` });
            break;
          }
          if (seen.has(file)) continue;
          seen.add(file);
          for (const next of relativeImports(file)) stack.push([next, [...path, next]]);
        }
      }
    };
    return { ImportDeclaration: check, ExportAllDeclaration: check, ExportNamedDeclaration: check };
  },
};

export default { meta: { name: 'eslint-plugin-vbus' }, rules: { 'declared-dependencies': declaredDependencies, 'no-cycle': noCycle } };
