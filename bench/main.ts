// `npm run bench`: the benchmark suite's command line.
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BENCH_SECTIONS, runBench, type BenchSection } from './run.js';
import { formatSvg, formatTable } from './format.js';
import { formatComparison } from './compare.js';
import { verdictLines } from './targets.js';
import type { BenchReport } from './report.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function sections(v: string): BenchSection[] {
  const list = v.split(',').map((x) => x.trim());
  const bad = list.filter((x) => !(BENCH_SECTIONS as readonly string[]).includes(x));
  if (bad.length || list.length === 0) throw new InvalidArgumentError(`sections are ${BENCH_SECTIONS.join(', ')}`);
  return list as BenchSection[];
}

const program = new Command('vbus-bench')
  .description('benchmark the vbus against baselines measured in the same run')
  .option('--quick', 'fewer frames and repetitions (every target still evaluated at its own size)')
  .addOption(new Option('--reps <n>', 'repetitions of the paired throughput and latency rows (default 3 quick, 5 full)').argParser(positiveInt))
  .addOption(new Option('--only <sections>', `run only these sections, comma-separated (${BENCH_SECTIONS.join(', ')})`).argParser(sections))
  .option('--compare <file>', 'print the change against an earlier --json report')
  .option('--json <file>', 'write every figure as JSON to <file>')
  .option('--svg <file>', 'write a bar chart of throughput and signals per frame to <file>')
  .addOption(new Option('--frames <n>', 'frames per throughput row and memory row (overrides --quick sizes)').argParser(positiveInt))
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .showHelpAfterError('(run with --help for the options)')
  .allowExcessArguments(false);

try {
  program.parse(process.argv);
} catch (e) {
  const err = e as { code?: string; exitCode?: number };
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
  process.exit(2);
}
const opts = program.opts<{ quick?: boolean; json?: string; svg?: string; frames?: number; reps?: number; compare?: string; only?: BenchSection[] }>();
// read the earlier report first: a bad file fails before a run of several minutes
let earlier: BenchReport | undefined;
if (opts.compare) {
  try {
    earlier = JSON.parse(readFileSync(opts.compare, 'utf8')) as BenchReport;
    if (!Array.isArray(earlier.rows) || !Array.isArray(earlier.targets)) throw new Error('not a bench report (no rows or targets)');
  } catch (e) {
    process.stderr.write(`vbus-bench: --compare ${opts.compare}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
}

const tty = process.stderr.isTTY;
const report = await runBench({
  quick: opts.quick ?? false,
  frames: opts.frames,
  reps: opts.reps,
  sections: opts.only,
  onProgress: (m) => process.stderr.write(tty ? `\r\x1b[K[bench] ${m}` : `[bench] ${m}\n`),
});
if (tty) process.stderr.write('\r\x1b[K');
process.stdout.write(formatTable(report, { targets: false }) + '\n');
if (earlier) process.stdout.write(formatComparison(report, earlier, opts.compare!) + '\n');
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`[bench] wrote ${opts.json}\n`);
}
if (opts.svg) {
  writeFileSync(opts.svg, formatSvg(report));
  process.stderr.write(`[bench] wrote ${opts.svg}\n`);
}
// last, one line per target
process.stdout.write('\nTargets\n' + verdictLines(report.targets) + '\n');
