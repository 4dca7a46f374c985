// `vbus new-device NAME`: generate a device plugin package (device class, ABI with pinned
// constants, driver, tests over the in-process, simulated and worker connectors, README) from
// the templates in packages/cli/src/templates/new-device. Placeholders: __name__ (kebab-case), __Name__
// (PascalCase), __NAME__ (CONSTANT_CASE), __camel__ (camelCase), __package__ (npm name). The
// package depends on the published @vbus packages (their dist/), as any plugin outside this repository.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// beside this module when run from source; the compiled dist/ module finds them in ../src/
const TEMPLATES =
  [new URL('./templates/new-device/', import.meta.url), new URL('../src/templates/new-device/', import.meta.url)].map((u) => fileURLToPath(u)).find((dir) => existsSync(dir)) ??
  fileURLToPath(new URL('./templates/new-device/', import.meta.url));
/** Options of {@link newDevice}. */
export interface NewDeviceOptions {
  /** Folder to create the package in (default: ./NAME). Must not exist, or be empty. */
  dir?: string;
  /** npm package name (default: vbus-device-NAME). */
  packageName?: string;
}

/** The names a device name expands to in the templates. */
export function deviceNames(name: string): Record<string, string> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name) || name.length > 40)
    throw new Error(`device name "${name}" must be kebab-case: lower-case letters and digits in words joined by "-", starting with a letter, at most 40 characters`);
  const words = name.split('-');
  const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return {
    __name__: name,
    __Name__: pascal,
    __NAME__: words.map((w) => w.toUpperCase()).join('_'),
    __camel__: pascal[0]!.toLowerCase() + pascal.slice(1),
  };
}

function templateFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? templateFiles(p) : n.endsWith('.tmpl') ? [p] : [];
  });
}

/** Write the package; returns the folder and the files written (relative to it). */
export function newDevice(name: string, options: NewDeviceOptions = {}): { dir: string; files: string[] } {
  const dir = resolve(options.dir ?? name);
  // The @vbus packages are TypeScript sources (not yet compiled to JS): the plugin's tsconfig
  // includes them so that tsc type-checks against them and tsx, in worker threads, compiles
  // their decorators with the same options (tsx applies a tsconfig only to files it includes).
  const names = { ...deviceNames(name), __package__: options.packageName ?? `vbus-device-${name}` };
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} exists and is not empty`);
  const pattern = new RegExp(Object.keys(names).join('|'), 'g');
  const files: string[] = [];
  for (const t of templateFiles(TEMPLATES)) {
    const rel = relative(TEMPLATES, t).replace(/\.tmpl$/, '');
    const out = join(dir, rel);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(
      out,
      readFileSync(t, 'utf8').replace(pattern, (k) => names[k as keyof typeof names]),
    );
    files.push(rel);
  }
  return { dir, files: files.sort() };
}
