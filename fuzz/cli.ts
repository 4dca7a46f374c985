/**
 * `npm run fuzz -- --minutes N [--target NAME] [--seed S] [--batch B]`: run the targets
 * round-robin for N minutes, each batch with a fresh seed (or S, S+1, ... when --seed is given),
 * print cases per target and any failure; a failure is shrunk by fast-check and written to
 * fuzz/regressions/<target>-<seed>.json (replayed by test/reliability-hostile.test.ts).
 */
import { installEscapeTrap } from './oracle.js';
import { REGRESSIONS_DIR, runBatch, writeRegression, type Regression } from './runner.js';
import { Watchdog } from './watchdog.js';
import type { Outcome } from './target.js';
import { targetNamed, targets } from './targets/index.js';

export interface FuzzArgs {
  minutes: number;
  target: string | undefined;
  seed: number | undefined;
  batch: number;
}

export function parseArgs(argv: readonly string[]): FuzzArgs {
  const out: FuzzArgs = { minutes: 1, target: undefined, seed: undefined, batch: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (v: string, min: number): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number >= ${min}, got "${v}"`);
      return n;
    };
    if (flag === '--minutes') out.minutes = num(value(), 0);
    else if (flag === '--target') out.target = value();
    else if (flag === '--seed') out.seed = Math.trunc(num(value(), -(2 ** 31)));
    else if (flag === '--batch') out.batch = Math.trunc(num(value(), 1));
    else if (flag === '--help' || flag === '-h') throw new Error('usage: npm run fuzz -- --minutes N [--target NAME] [--seed S] [--batch B]');
    else throw new Error(`unknown option ${a}`);
  }
  if (out.target !== undefined) targetNamed(out.target);
  return out;
}

export interface FuzzSummary {
  perTarget: Record<string, { cases: number; batches: number } & Record<Outcome, number>>;
  failures: Array<Regression & { file: string }>;
}

export async function fuzz(args: FuzzArgs, log: (line: string) => void = console.log): Promise<FuzzSummary> {
  installEscapeTrap();
  const list = args.target ? [targetNamed(args.target)] : [...targets];
  const deadline = Date.now() + args.minutes * 60_000;
  const summary: FuzzSummary = { perTarget: {}, failures: [] };
  for (const t of list) summary.perTarget[t.name] = { cases: 0, batches: 0, progress: 0, failed: 0, refused: 0 };
  let seed = args.seed;
  let k = 0;
  const watchdog = new Watchdog(REGRESSIONS_DIR);
  try {
    do {
      const t = list[k++ % list.length]!;
      const s = seed ?? (Math.random() * 2 ** 31) | 0;
      if (seed !== undefined) seed++;
      const r = await runBatch(t, args.batch, s, (c) => watchdog.beat(t.name, s, c));
      const row = summary.perTarget[t.name]!;
      row.cases += r.runs;
      row.batches++;
      for (const o of ['progress', 'failed', 'refused'] as const) row[o] += r.outcomes[o];
      if (r.failure) {
        const file = writeRegression(r.failure);
        summary.failures.push({ ...r.failure, file });
        log(`FAIL ${t.name} seed ${s}: ${r.failure.error}\n  shrunk case written to ${file}`);
      }
    } while (Date.now() < deadline);
  } finally {
    await watchdog.stop();
  }
  return summary;
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: FuzzArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  console.log(
    `fuzzing ${args.target ?? 'every target'} for ${args.minutes} minute(s), batches of ${args.batch}${args.seed !== undefined ? `, seeds from ${args.seed}` : ', fresh seeds'}`,
  );
  const started = Date.now();
  const s = await fuzz(args);
  const secs = (Date.now() - started) / 1000;
  console.log(
    `\n${'target'.padEnd(14)} ${'cases'.padStart(8)} ${'progress'.padStart(9)} ${'failed'.padStart(7)} ${'refused'.padStart(8)}   (device outcomes; "failed" = device failed cleanly)`,
  );
  let total = 0;
  for (const [name, r] of Object.entries(s.perTarget)) {
    total += r.cases;
    console.log(`${name.padEnd(14)} ${String(r.cases).padStart(8)} ${String(r.progress).padStart(9)} ${String(r.failed).padStart(7)} ${String(r.refused).padStart(8)}`);
  }
  console.log(`${total} cases in ${secs.toFixed(1)} s; ${s.failures.length} oracle failure(s)`);
  for (const f of s.failures) console.log(`  ${f.target} seed ${f.seed}: ${f.error}\n    ${f.file}`);
  return s.failures.length === 0 ? 0 : 1;
}
