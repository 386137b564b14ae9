import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, quantileSorted } from '../bench/lib/stats.js';
import { distinctKeys, randomRows, seededRandom, shuffledIndex, uniformRows, ZipfSampler } from '../bench/lib/random.js';
import { SuiteReport, suiteResultSchema, writeResult } from '../bench/lib/results.js';
import { ratioChart } from '../bench/lib/chart.js';
import { writeDocs } from '../bench/lib/docs.js';
import { describeMachine } from '../bench/lib/machine.js';

const tmp = mkdtempSync(join(tmpdir(), 'hps-bench-lib-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('summarize and quantiles match a sort-based reference on random samples', () => {
  const rand = seededRandom(3);
  for (const n of [1, 2, 3, 10, 101, 1000]) {
    const values = Array.from({ length: n }, () => rand() * 1000 - 300);
    const sorted = [...values].sort((a, b) => a - b);
    const s = summarize(values);
    const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    assert.ok(Math.abs(s.median - median) < 1e-9, `median of ${n}`);
    assert.is(s.min, sorted[0]);
    assert.is(s.max, sorted[n - 1]);
    assert.is(s.samples, n);
    assert.ok(Math.abs(quantileSorted(sorted, 0.99) - (sorted[Math.floor(0.99 * (n - 1))] + (sorted[Math.min(n - 1, Math.floor(0.99 * (n - 1)) + 1)] - sorted[Math.floor(0.99 * (n - 1))]) * (0.99 * (n - 1) - Math.floor(0.99 * (n - 1))))) < 1e-9);
  }
  assert.throws(() => summarize([]), /no samples/);
});

test('seeded generators are deterministic; keys distinct and non-negative; rows never zero', () => {
  const a = distinctKeys(50000, 11);
  assert.equal(a, distinctKeys(50000, 11));
  assert.not.equal(a, distinctKeys(50000, 12));
  assert.is(new Set(a).size, a.length);
  assert.ok(a.every((k) => k >= 0n));
  const rows = randomRows(100000, 5);
  assert.ok(rows.every((v) => v !== 0 && v >= -1 && v < 1));
  const perm = shuffledIndex(1000, seededRandom(1));
  assert.equal([...perm].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  const uni = uniformRows(100, 100000, 9);
  const counts = new Array(100).fill(0);
  uni.forEach((r) => counts[r]++);
  assert.ok(Math.min(...counts) > 850 && Math.max(...counts) < 1150, 'uniform draws spread evenly');
});

test('Zipf sampler: rank frequencies follow 1/r^s within sampling error', () => {
  const n = 5000;
  const s = 1.05;
  const z = new ZipfSampler(n, s, 77);
  let h = 0;
  for (let r = 1; r <= n; r++) h += 1 / Math.pow(r, s);
  const draws = 200000;
  const counts = new Float64Array(n + 1);
  for (let i = 0; i < draws; i++) counts[z.nextRank()]++;
  for (const r of [1, 2, 3, 5, 10, 50]) {
    const p = 1 / Math.pow(r, s) / h;
    const sd = Math.sqrt(draws * p * (1 - p));
    assert.ok(Math.abs(counts[r] - draws * p) < 5 * sd, `rank ${r}: ${counts[r]} vs ${draws * p}`);
  }
  // rows(): the hottest rank maps to one fixed row, which must then be the most frequent row.
  const rows = new ZipfSampler(n, s, 77).rows(draws);
  const rowCounts = new Map<number, number>();
  rows.forEach((r) => rowCounts.set(r, (rowCounts.get(r) ?? 0) + 1));
  const top = Math.max(...rowCounts.values());
  assert.ok(Math.abs(top - counts[1]) < 5 * Math.sqrt(counts[1]));
  assert.ok(rows.every((r) => r >= 0 && r < n));
});

test('SuiteReport ratios divide medians and check the target direction; results validate', () => {
  const r = new SuiteReport('unit', 'smoke');
  const num = r.figure('a', 'keys/s', { median: 30, min: 20, max: 40, samples: 5 });
  const den = r.figure('b', 'keys/s', { median: 10, min: 9, max: 11, samples: 5 });
  assert.is(r.ratio('a/b', num, den, 2).met, true);
  assert.is(r.ratio('a/b strict', num, den, 4).met, false);
  assert.is(r.ratio('b/a <=', den, num, 0.5, '<=').met, true);
  assert.is(r.bound('a under 25', num, 25, '25').met, false);
  assert.ok(Math.abs(r.ratios[0].value - 3) < 1e-12);
  r.skip('thing', 'because');
  const path = writeResult(tmp, r.result(describeMachine()));
  const parsed = suiteResultSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  assert.is(parsed.ratios.length, 4);
  assert.is(parsed.skipped[0].why, 'because');
  assert.throws(() => writeResult(tmp, { ...r.result(describeMachine()), figures: [{ name: 'x' } as never] }));
});

test('chart has one bar and one target tick per ratio; docs include bench/analysis.md and keep the GPU section', () => {
  const r = new SuiteReport('host', 'full');
  const f1 = r.figure('x', 'keys/s', { median: 5, min: 4, max: 6, samples: 3 });
  const f2 = r.figure('y', 'keys/s', { median: 2, min: 1, max: 3, samples: 3 });
  r.ratio('x/y', f1, f2, 1.6);
  r.ratio('y/x', f2, f1, 0.7);
  const svg = ratioChart(r.ratios.map((ratio) => ({ suite: 'host', ratio })), 'title & <test>');
  assert.is((svg.match(/<rect /g) ?? []).length, 1 + 2, 'background + one bar per ratio');
  assert.ok(svg.includes('#2e8b57') && svg.includes('#c0392b'), 'one met, one not met');
  assert.ok(svg.includes('title &amp; &lt;test&gt;'));
  for (const [, text] of svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)) assert.not.ok(/>|&(?!(amp|lt|gt);)/.test(text), `raw markup in ${text}`);
  assert.ok(svg.includes('(&gt;= 1.6x)'));

  const root = join(tmp, 'repo');
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeResult(join(root, 'results'), r.result(describeMachine()));
  writeFileSync(join(root, 'results', 'gpu.json'), JSON.stringify({ card: 'H100' }));
  writeFileSync(join(root, 'docs/benchmarks.md'), '# old\n\n## host\nold table\n\n## GPU\ngpu table\n');
  mkdirSync(join(root, 'bench'));
  writeFileSync(join(root, 'bench/analysis.md'), '## Analysis\nwhy it is slow\n');
  writeDocs(root, join(root, 'results'));
  const doc = readFileSync(join(root, 'docs/benchmarks.md'), 'utf8');
  assert.ok(doc.includes('## Analysis\nwhy it is slow'));
  assert.ok(doc.includes('## GPU\ngpu table'));
  assert.not.ok(doc.includes('old table'));
  assert.ok(doc.includes('| x/y | 2.50x | >= 1.6x | met |'));
  assert.ok(readFileSync(join(root, 'docs/benchmarks-chart.svg'), 'utf8').startsWith('<svg'));
});

test.run();
