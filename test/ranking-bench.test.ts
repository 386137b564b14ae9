// `npm run bench -- --only ranking` at the tiny smoke scale, in a child process as the runner runs it:
// the result file names the three measurements of the ranking workload, the lookup parts and their ratios.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suiteResultSchema } from '../bench/lib/results.js';
import { tempDir } from './helpers/lmdb-random.js';

const runner = new URL('../bench/run.js', import.meta.url).pathname;

test('the ranking suite reports the step with the parameter server, with a Map, the model alone, and the lookup share', () => {
  const out = tempDir('ranking-bench');
  try {
    const run = spawnSync(process.execPath, [runner, '--scale', 'smoke', '--only', 'ranking', '--out', out.path, '--no-docs'], { encoding: 'utf8', timeout: 180_000 });
    assert.is(run.status, 0, run.stdout + run.stderr);
    const result = suiteResultSchema.parse(JSON.parse(readFileSync(join(out.path, 'ranking.json'), 'utf8')));
    assert.equal(result.figures.map((f) => f.name), ['step, parameter server', 'step, Map', 'model alone', 'lookup, parameter server', 'lookup, Map']);
    for (const f of result.figures) assert.ok(f.unit === 'samples/s' && f.min > 0 && f.min <= f.median && f.median <= f.max, f.name);
    const ratio = (name: string) => result.ratios.find((r) => r.name === name);
    assert.is(ratio('step: parameter server vs Map')?.target, 5);
    assert.is(ratio('lookup share of the step (parameter server)')?.direction, '<=');
    assert.ok(result.notes.some((n) => /4\.1 ms with HPS vs 35\.3 ms/.test(n)), 'the HPS anchor is quoted');
  } finally {
    out.remove();
  }
});

test.run();
