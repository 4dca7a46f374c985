// The packages as a consumer gets them: every package is packed (npm pack) and the tarballs are
// installed with `npm install` into a fresh project outside the repository (real copies in
// node_modules, no workspace links; third-party dependencies from the registry through the
// machine's npm cache). There, with plain node and the compiled JavaScript only: a JavaScript
// program with a worker guest, a strict TypeScript program checked against the published .d.ts,
// every package README's `js` example as printed, a second copy of @vbus/core inside a plugin,
// and the `vbus` command.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'consumer');
const PACKAGES = ['core', 'net', 'venet', 'virtio-compat', 'vhost-user', 'guest-nic', 'cli'];
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The child's environment without the npm_* variables of an enclosing `npm test`, so the consumer's npm acts as a user's would. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

function run(cmd: string, args: string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}${r.error ?? ''}`);
  return r;
}

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

let dir: string;
let app: string;
const packed = new Map<string, Packed>();

beforeAll(() => {
  run(process.execPath, [TSC, '-b', 'tsconfig.build.json'], ROOT);
  dir = mkdtempSync(join(tmpdir(), 'vbus-consumer-'));
  for (const pkg of PACKAGES) {
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], join(ROOT, 'packages', pkg)).stdout;
    packed.set(pkg, (JSON.parse(out) as Packed[])[0]!);
  }
  app = join(dir, 'app');
  mkdirSync(app);
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const dependencies: Record<string, string> = { inversify: root.devDependencies.inversify! };
  for (const [pkg, p] of packed) dependencies[`@vbus/${pkg}`] = `file:../${p.filename}`;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'vbus-consumer', private: true, type: 'module', dependencies, devDependencies: { '@types/node': root.devDependencies['@types/node'] } }, null, 2),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app, 280_000);
  for (const f of ['app.mjs', 'guest.mjs', 'app.ts', 'tsconfig.json']) copyFileSync(join(FIXTURES, f), join(app, f));
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed packages in a fresh project', { timeout: 120_000 }, () => {
  it('each tarball holds the compiled entry points of its exports map, and no tests or fixtures', () => {
    for (const [pkg, p] of packed) {
      const files = new Set(p.files.map((f) => f.path));
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { exports?: Record<string, string | Record<string, string>> };
      for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
        if (typeof target === 'string') continue;
        expect(files, `${pkg} ${sub} types`).toContain(target.types!.replace(/^\.\//, ''));
        expect(files, `${pkg} ${sub} import`).toContain(target.import!.replace(/^\.\//, ''));
      }
      expect(
        // (the new-device templates are files a user's plugin starts from, tests among them: not ours)
        [...files].filter((f) => /\.test\.|(^|\/)fixtures\/|(^|\/)test-c\/|tsbuildinfo/.test(f) && !f.startsWith('src/templates/')),
        pkg,
      ).toEqual([]);
      expect(files, pkg).toContain('README.md');
    }
    const cliFiles = packed.get('cli')!.files.map((f) => f.path);
    expect(cliFiles).toContain('bin/vbus.mjs');
    // `vbus new-device` reads its templates from the installed package
    for (const template of ['src/templates/new-device/package.json.tmpl', 'src/templates/new-device/test/device.test.ts.tmpl']) expect(cliFiles).toContain(template);
  });

  it('installs real copies: no @vbus package in node_modules links back into the repository', () => {
    for (const pkg of PACKAGES) {
      const p = join(app, 'node_modules', '@vbus', pkg);
      expect(lstatSync(p).isSymbolicLink(), pkg).toBe(false);
      expect(realpathSync(p).startsWith(realpathSync(dir)), pkg).toBe(true);
      expect(existsSync(join(p, 'src', 'index.ts')) || pkg === 'cli', pkg).toBe(true);
    }
  });

  it('(a) plain node runs a JavaScript program: venet and virtio-net in process, and a venet guest in a worker thread from its own .js file', () => {
    const out = JSON.parse(run(process.execPath, ['app.mjs'], app).stdout) as {
      replies: number;
      workerExit: number;
      venet0: { drops: number; rxFrames: number };
      vnet0: { drops: number; rxFrames: number };
    };
    expect(out.replies).toBe(60);
    expect(out.workerExit).toBe(0);
    expect(out.venet0.drops).toBe(0);
    expect(out.vnet0.drops).toBe(0);
    expect(out.venet0.rxFrames).toBeGreaterThanOrEqual(40);
    expect(out.vnet0.rxFrames).toBeGreaterThanOrEqual(40);
  });

  it('(b) a TypeScript program (strict, exactOptionalPropertyTypes, no skipLibCheck) type-checks against the published .d.ts and runs', () => {
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
    const out = JSON.parse(run(process.execPath, [join('dist', 'app.js')], app).stdout) as { counted: unknown; kicks: number; reclaimed: number; venetLinkUp: boolean };
    expect(out).toEqual({ counted: { frames: 10 }, kicks: 1, reclaimed: 10, venetLinkUp: true });
  });

  it("(c) every `js` example in the installed packages' READMEs runs as printed", () => {
    let examples = 0;
    for (const pkg of PACKAGES) {
      const readme = readFileSync(join(app, 'node_modules', '@vbus', pkg, 'README.md'), 'utf8');
      const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
      if (pkg !== 'cli') expect(blocks.length, `${pkg} README has a js example`).toBeGreaterThan(0);
      blocks.forEach((code, i) => {
        const file = join(app, `readme-${pkg}-${i}.mjs`);
        writeFileSync(file, code);
        run(process.execPath, [file], app, 60_000);
        examples++;
      });
    }
    expect(examples).toBeGreaterThanOrEqual(PACKAGES.length - 1);
  });

  it('`npx vbus --help` and `npx vbus demo` run the compiled command from the installed tree', () => {
    expect(run('npx', ['vbus', '--help'], app).stdout).toMatch(/Usage: vbus/);
    const demo = run('npx', ['vbus', 'demo', '--echo', '--frames', '2000'], app).stdout;
    expect(demo).toMatch(/frames intact and in order: yes/);
  });

  it('@vbus/vhost-user builds its native addon from the installed sources on first use, and it works', () => {
    const addon = join(app, 'node_modules', '@vbus', 'vhost-user', 'native', 'build', 'vbus_native.node');
    expect(existsSync(addon)).toBe(false);
    const code = "import { native } from '@vbus/vhost-user/node'; const n = native(); const fd = n.eventfd(); n.close(fd); console.log(JSON.stringify({ fd }));";
    const out = JSON.parse(run(process.execPath, ['--input-type=module', '-e', code], app).stdout) as { fd: number };
    expect(out.fd).toBeGreaterThanOrEqual(0);
    expect(existsSync(addon)).toBe(true);
  });

  it("a second copy of @vbus/core inside the plugins still works with the application's bus", () => {
    for (const plugin of ['venet', 'virtio-compat']) {
      const copy = join(app, 'node_modules', '@vbus', plugin, 'node_modules', '@vbus', 'core');
      cpSync(join(app, 'node_modules', '@vbus', 'core'), copy, { recursive: true });
      // make the copy distinguishable, as another release would be
      const manifest = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { version: string };
      writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...manifest, version: `${manifest.version}-copy` }));
    }
    const which = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('@vbus/core'))"], join(app, 'node_modules', '@vbus', 'venet')).stdout;
    expect(which).toContain('/node_modules/@vbus/venet/node_modules/@vbus/core/');
    const out = JSON.parse(run(process.execPath, ['app.mjs'], app).stdout) as { replies: number; workerExit: number };
    expect(out).toMatchObject({ replies: 60, workerExit: 0 });
  });
});
