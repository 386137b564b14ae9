import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suiteResultSchema, type SuiteResult } from '../bench/lib/results.js';
import { redisInstalled } from '../bench/lib/redis-server.js';

// The whole runner at its tiny `smoke` scale, in a child process as `npm run bench` runs it: every
// result file has the documented shape and every ratio is consistent with the figures it names.
const out = mkdtempSync(join(tmpdir(), 'hps-bench-smoke-test-'));
test.after(() => rmSync(out, { recursive: true, force: true }));
const SUITES = ['limit', 'host', 'peers', 'latency', 'memory', 'import'];
const runner = new URL('../bench/run.js', import.meta.url).pathname;
const run = spawnSync(process.execPath, [runner, '--scale', 'smoke', '--only', SUITES.join(','), '--out', out, '--no-docs'], { encoding: 'utf8', timeout: 120_000 });
const results = new Map<string, SuiteResult>();

test('the smoke run exits 0 and writes one valid result file per suite', () => {
  assert.is(run.status, 0, run.stdout + run.stderr);
  assert.equal(readdirSync(out).sort(), SUITES.map((s) => `${s}.json`).sort());
  for (const suite of SUITES) {
    const r = suiteResultSchema.parse(JSON.parse(readFileSync(join(out, `${suite}.json`), 'utf8')));
    assert.is(r.suite, suite);
    assert.is(r.scale, 'smoke');
    assert.ok(r.machine.cores >= 1 && r.machine.node === process.version);
    results.set(suite, r);
  }
  assert.match(run.stdout, /scale smoke \(sizes shrunk/);
});

test('ratios divide the medians of figures held in the same file', () => {
  for (const r of results.values()) {
    for (const ratio of r.ratios) {
      const num = r.figures.find((f) => f.name === ratio.numerator);
      assert.ok(num, `${r.suite}: ${ratio.name} numerator ${ratio.numerator}`);
      const den = r.figures.find((f) => f.name === ratio.denominator);
      const expected = den ? num!.median / den.median : num!.median / Number.parseFloat(ratio.denominator);
      assert.ok(Math.abs(ratio.value - expected) <= 1e-9 * Math.abs(expected), `${r.suite}: ${ratio.name}`);
      assert.is(ratio.met, ratio.direction === '>=' ? ratio.value >= ratio.target : ratio.value <= ratio.target);
    }
    for (const f of r.figures) assert.ok(f.min <= f.median && f.median <= f.max && f.samples >= 1, `${r.suite}: ${f.name}`);
  }
});

test('each workload reports its figures and ratios', () => {
  const names = (s: string) => results.get(s)!.figures.map((f) => f.name);
  const ratios = (s: string) => results.get(s)!.ratios.map((r) => r.name);
  for (const stream of ['zipf', 'uniform']) {
    assert.ok(names('limit').includes(`limit ${stream}`));
    for (const f of [`host 1 thread ${stream}`, `host 1 worker ${stream}`, `host 2 workers ${stream}`]) assert.ok(names('host').includes(f), f);
    assert.ok(ratios('host').includes(`host 1 thread / limit (${stream})`));
    assert.ok(ratios('host').includes(`host 2 workers / 1 worker (${stream})`));
    assert.ok(ratios('peers').includes(`host vs Map (${stream})`));
    assert.ok(ratios('peers').includes(`host vs lmdb-js per key (${stream})`));
    if (redisInstalled()) assert.ok(ratios('peers').includes(`host vs Redis MGET (${stream})`));
  }
  // The 50 us bound is checked on the ParameterServer once it serves from L1/L2, on the arena until then.
  assert.ok(ratios('latency').some((r) => /^(host inline|server) p99 batch 256 \/ 50 us$/.test(r)), ratios('latency').join());
  assert.equal(ratios('memory'), ['host tier bytes / raw', 'RSS growth / raw']);
  assert.equal(ratios('import'), ['import vs cp']);
  for (const r of results.values()) for (const s of r.skipped) assert.ok(s.why.length > 10, `${r.suite}: ${s.what} says why`);
});

test.run();
