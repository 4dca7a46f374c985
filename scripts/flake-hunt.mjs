#!/usr/bin/env node
// Runs the whole test suite several times in a row, optionally with every core kept busy by a CPU
// hog of our own, and prints per run the wall time and the tests that failed. This is how the
// suite is checked for flakes (a test that passes idle but fails under load is a bug in the test
// or in the code, found here rather than in CI).
//
//   node scripts/flake-hunt.mjs [--runs N] [--loaded] [--hogs K] [-- vitest args...]
//
// --loaded starts one hog per core (or K with --hogs) for the duration of every run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const split = process.argv.indexOf('--');
const own = split < 0 ? process.argv.slice(2) : process.argv.slice(2, split);
const extra = split < 0 ? [] : process.argv.slice(split + 1);
const { values } = parseArgs({
  args: own,
  options: { runs: { type: 'string', default: '1' }, loaded: { type: 'boolean', default: false }, hogs: { type: 'string' } },
});
const runs = Number(values.runs);
const hogCount = values.loaded ? Number(values.hogs ?? availableParallelism()) : 0;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got ${values.runs}`);
if (!Number.isInteger(hogCount) || hogCount < 0) throw new Error(`--hogs: expected a non-negative integer, got ${values.hogs}`);

const hogs = [];
for (let i = 0; i < hogCount; i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stopHogs = () => hogs.forEach((h) => h.kill('SIGKILL'));
process.on('exit', stopHogs);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const dir = mkdtempSync(join(tmpdir(), 'vbus-flake-hunt-'));
const summary = [];
for (let run = 1; run <= runs; run++) {
  const report = join(dir, `run-${run}.json`);
  const t0 = Date.now();
  const code = await new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  const secs = (Date.now() - t0) / 1000;
  let failed = [];
  let counts = '';
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    counts = `${json.numPassedTests} passed, ${json.numFailedTests} failed`;
    for (const file of json.testResults) {
      for (const t of file.assertionResults) {
        if (t.status === 'failed') failed.push(`${file.name.replace(process.cwd() + '/', '')}: ${t.fullName}\n      ${(t.failureMessages[0] ?? '').split('\n')[0]}`);
      }
      if (file.status === 'failed' && file.assertionResults.every((t) => t.status !== 'failed')) failed.push(`${file.name}: ${file.message}`);
    }
  } catch (e) {
    failed = [`no report (${e.message})`];
  }
  const line = `run ${run}/${runs}${hogCount ? ` (${hogCount} CPU hogs)` : ''}: exit ${code}, ${secs.toFixed(0)} s, ${counts}`;
  summary.push(line, ...failed.map((f) => `    ${f}`));
  process.stderr.write(`${line}\n${failed.map((f) => `    ${f}\n`).join('')}`);
}
stopHogs();
process.stdout.write(`${summary.join('\n')}\n`);
