// `npm run example:tfjs`: the TF.js example in a child process; it exits 0 only when model.predict with
// the HPS layers equals the same dense layers over embeddings looked up with the promise-returning calls.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../examples/tfjs/main.js', import.meta.url));

test('the TF.js example runs and its layers give the scores of the same model without them', () => {
  const run = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 120_000 });
  const output = run.stdout + run.stderr;
  assert.is(run.status, 0, output);
  const diff = /64 scores, largest difference ([\d.e+-]+)/.exec(output);
  assert.ok(diff && Number(diff[1]) <= 1e-6, output);
});

test.run();
