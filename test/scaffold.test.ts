// `vbus new-device NAME`: the generated plugin package type-checks and passes its own tests as
// generated. The package is written into a temporary folder by the real CLI; @vbus/* and the
// tools resolve through a node_modules link to this checkout's (what `npm install` would give a
// plugin inside this workspace), then its tsc and vitest run there, in their own processes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceNames, newDevice } from '../packages/cli/src/new-device.js';
import { VBUS_ARGS } from './fixtures/vbus-command.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
// the generated package depends on the @vbus packages as a user's would: their compiled dist/
// (npm test's pretest builds it; this makes the file runnable on its own, and is a no-op when built)
beforeAll(async () => {
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'], { cwd: ROOT, timeout: 240_000 });
}, 240_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vbus-scaffold-'));
  dirs.push(d);
  return d;
}

describe('vbus new-device', () => {
  it('generates a package that type-checks and passes its tests (in-process, simulated, worker, hostile) as generated', async () => {
    const dir = join(tempDir(), 'frame-stamper');
    const t0 = performance.now();
    const cli = await run(process.execPath, [...VBUS_ARGS, 'new-device', 'frame-stamper', '--dir', dir], { cwd: ROOT });
    expect(cli.stdout).toMatch(/created .*frame-stamper/);
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const t1 = performance.now();
    await run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, timeout: 120_000 });
    const t2 = performance.now();
    const tests = await run(process.execPath, [join(dir, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=verbose'], {
      cwd: dir,
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const t3 = performance.now();
    expect(tests.stdout).toMatch(/Tests\s+6 passed \(6\)/);
    for (const name of ['pins the ABI', 'in-process', 'simulated', 'worker thread', 'refused with an error naming the device', 'a broken ring fails only this device'])
      expect(tests.stdout).toContain(name);
    const src = readFileSync(join(dir, 'src/device.ts'), 'utf8');
    expect(src).toContain('export class FrameStamperDeviceClass');
    expect(src).toContain('FRAME_STAMPER_TYPE');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name).toBe('vbus-device-frame-stamper');
    console.log(
      `scaffold-to-passing-test: generate ${((t1 - t0) / 1000).toFixed(1)} s, tsc ${((t2 - t1) / 1000).toFixed(1)} s, vitest ${((t3 - t2) / 1000).toFixed(1)} s, total ${((t3 - t0) / 1000).toFixed(1)} s`,
    );
  }, 240_000);

  it('refuses a name that is not kebab-case, and a folder that is not empty, writing nothing', async () => {
    for (const bad of ['Frame', '9lives', 'a_b', 'a--b', '-a', '', 'x'.repeat(41)]) expect(() => deviceNames(bad)).toThrow(/kebab-case/);
    expect(deviceNames('udp-echo2')).toEqual({ __name__: 'udp-echo2', __Name__: 'UdpEcho2', __NAME__: 'UDP_ECHO2', __camel__: 'udpEcho2' });
    const dir = tempDir();
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    expect(() => newDevice('widget', { dir })).toThrow(/exists and is not empty/);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
    const cli = run(process.execPath, [...VBUS_ARGS, 'new-device', 'Bad_Name', '--dir', join(dir, 'x')], { cwd: ROOT });
    await expect(cli).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/vbus new-device: device name "Bad_Name" must be kebab-case/) });
  });
});
