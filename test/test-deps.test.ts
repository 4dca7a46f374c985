// The pretest step (scripts/test-deps.mjs): with a tool missing, `npm test` stops before any test
// with the list of what is missing and the command that installs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = new URL('../scripts/test-deps.mjs', import.meta.url).pathname;

describe('test set-up (scripts/test-deps.mjs)', () => {
  it('--check on a PATH without the tools exits 1 naming each missing tool, its package and the apt-get command', () => {
    // an empty directory as PATH: tshark, gcc and qemu are not found there
    const emptyPath = mkdtempSync(join(tmpdir(), 'vbus-no-tools-'));
    const r = spawnSync(process.execPath, [script, '--check'], { env: { PATH: emptyPath }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('tshark (Debian package tshark)');
    expect(r.stderr).toContain('qemu-system-x86_64 (Debian package qemu-system-x86)');
    expect(r.stderr).toMatch(/apt-get update && apt-get install -y --no-install-recommends .*tshark.*qemu-system-x86/);
  });

  it('--check on this machine passes: npm test installed everything it needs before this test ran', () => {
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('--list names a Debian package for every requirement', () => {
    const r = spawnSync(process.execPath, [script, '--list'], { encoding: 'utf8' });
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const row of rows) expect(row[0]).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
    expect(rows.map((row) => row[0])).toEqual(expect.arrayContaining(['tshark', 'gcc', 'qemu-system-x86', 'linux-image-amd64', 'busybox-static']));
  });
});
