// `npm run example:ranking -- --quick` as CI runs it: the example in a child process at a small scale,
// end to end (files, import, ONNX model, lookups, check against the reference, timing lines).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/lmdb-random.js';

const main = fileURLToPath(new URL('../examples/ranking/main.js', import.meta.url));

test('the ranking example runs at the quick scale and its scores match the reference', () => {
  const dir = tempDir('ranking-example');
  try {
    const run = spawnSync(process.execPath, [main, '--quick', '--dir', dir.path, '--batches', '3'], { encoding: 'utf8', timeout: 240_000 });
    const output = run.stdout + run.stderr;
    assert.is(run.status, 0, output);
    assert.match(output, /zero-copy: .*: true/);
    assert.match(output, /ran 3 batches of 256: [\d,]+ samples\/s; per batch [\d.]+ ms: lookup [\d.]+ ms \(\d+%\), model [\d.]+ ms \(\d+%\)/);
    const diff = /largest difference ([\d.e+-]+) <= 0\.00001/.exec(output);
    assert.ok(diff && Number(diff[1]) <= 1e-5, output);
  } finally {
    dir.remove();
  }
});

test.run();
