import { Command, Option } from 'commander';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { RunContext } from './lib/context.js';
import { describeMachine } from './lib/machine.js';
import { SuiteReport, writeResult, type Scale } from './lib/results.js';
import { printSuite } from './lib/format.js';
import { SCALES } from './lib/scales.js';
import { SUITES } from './suites/index.js';
import { loadAverage } from './lib/cpu.js';
import { writeDocs } from './lib/docs.js';

/**
 * `npm run bench [-- --quick] [--only host,peers]`: runs the workloads of bench/suites/, prints a table per
 * suite and writes bench/results/<suite>.json (bench/results/quick/ for a quick run), then regenerates
 * docs/benchmarks.md and docs/benchmarks-chart.svg from the full results.
 */
const root = new URL('../../', import.meta.url).pathname;

const program = new Command('bench')
  .description('hps-node benchmark suite (see docs/benchmarks.md)')
  .option('--quick', 'CI-sized run: shrunk sizes, short sampling (same as --scale quick)')
  .addOption(new Option('--scale <scale>', 'full (the workloads\' sizes), quick, or smoke (tiny, for tests)').choices(['full', 'quick', 'smoke']))
  .option('--only <suites>', `comma-separated subset of: ${SUITES.map((s) => s.name).join(', ')} (suites they need run too)`)
  .option('--out <dir>', 'folder for the result files (default bench/results, or bench/results/quick)')
  .option('--no-docs', 'do not regenerate docs/benchmarks.md and the chart')
  .parse();

const opts = program.opts<{ quick?: boolean; scale?: Scale; only?: string; out?: string; docs: boolean }>();
const scale: Scale = opts.scale ?? (opts.quick ? 'quick' : 'full');
const sizes = SCALES[scale];
const outDir = opts.out ?? (scale === 'full' ? join(root, 'bench/results') : scale === 'quick' ? join(root, 'bench/results/quick') : join(tmpdir(), 'hps-bench-smoke'));

const selected = selectSuites(opts.only);
const machine = describeMachine();
console.log(`bench: scale ${scale}${scale === 'full' ? '' : ' (sizes shrunk from full: figures are not comparable with a full run)'}; suites ${selected.map((s) => s.name).join(', ')}`);
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; results -> ${outDir}`);

const ctx = new RunContext(scale, sizes.measure, sizes.host);
let failed = 0;
for (const suite of selected) {
  console.log(`\n-- ${suite.name}: ${suite.description}`);
  const report = new SuiteReport(suite.name, scale);
  const load = loadAverage();
  if (load !== null) report.note(`load average at start: ${load.toFixed(2)} on ${machine.cores} cores (other processes share this machine)`);
  const t0 = Date.now();
  try {
    await suite.run(ctx, report);
  } catch (err) {
    failed++;
    report.skip(suite.name, `failed: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof Error && err.stack) console.error(err.stack);
  }
  const result = report.result(machine);
  printSuite(result);
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s) -> ${writeResult(outDir, result)}`);
}
await ctx.close();
if (opts.docs && scale === 'full') {
  const written = writeDocs(root, join(root, 'bench/results'));
  console.log(`\ndocs: ${written.join(', ')}`);
}
process.exitCode = failed ? 1 : 0;

/** The suites named by --only plus the suites they need, in the registry's order. */
function selectSuites(only: string | undefined) {
  if (!only) return SUITES;
  const names = new Set<string>();
  const add = (name: string) => {
    const suite = SUITES.find((s) => s.name === name);
    if (!suite) {
      console.error(`bench: --only: unknown suite "${name}"; expected some of ${SUITES.map((s) => s.name).join(', ')}`);
      process.exit(2);
    }
    suite.needs.forEach(add);
    names.add(name);
  };
  only.split(',').map((s) => s.trim()).filter(Boolean).forEach(add);
  return SUITES.filter((s) => names.has(s.name));
}
