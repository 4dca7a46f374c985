// `npm run bench`: the benchmark suite's command line.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runBench } from './run.js';
import { formatSvg, formatTable } from './format.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command('vbus-bench')
  .description('benchmark the vbus against baselines measured in the same run')
  .option('--quick', 'fewer frames: the whole run takes under a minute')
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
const opts = program.opts<{ quick?: boolean; json?: string; svg?: string; frames?: number }>();

const tty = process.stderr.isTTY;
const report = await runBench({
  quick: opts.quick ?? false,
  frames: opts.frames,
  onProgress: (m) => process.stderr.write(tty ? `\r\x1b[K[bench] ${m}` : `[bench] ${m}\n`),
});
if (tty) process.stderr.write('\r\x1b[K');
process.stdout.write(formatTable(report) + '\n');
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`[bench] wrote ${opts.json}\n`);
}
if (opts.svg) {
  writeFileSync(opts.svg, formatSvg(report));
  process.stderr.write(`[bench] wrote ${opts.svg}\n`);
}
