import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PipelineFixture } from './helpers/pipeline-fixture.js';
import { expectError } from './helpers/expect-error.js';

// A request split over more threads than it has keys: every range holds at least one key, so no worker
// gets a range past the end (which failed the request as WORKER_DIED although no worker died).

test('splitMinKeys 1 with 3 workers: requests of 1 to 7 keys are served exactly', async () => {
  const fx = new PipelineFixture(500, 8, 71);
  const ps = await fx.open({ l1Enabled: false }, { workerThreads: 3 }, 1);
  try {
    for (let n = 1; n <= 7; n++) {
      const keys = BigInt64Array.from([...fx.ranked(n * 10, n * 10 + n - 1), ...fx.absent(1)]);
      assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys), `${keys.length} keys`);
    }
  } finally {
    await ps.close();
    fx.dir.remove();
  }
});

test('splitMinKeys must be an integer >= 1 (or Infinity): 0, -1, 2.5 and NaN are BAD_ARGUMENT', async () => {
  const fx = new PipelineFixture(10, 4, 72);
  try {
    for (const bad of [0, -1, 2.5, Number.NaN]) {
      await expectError(() => fx.open({}, {}, bad), 'BAD_ARGUMENT', /OpenOptions.splitMinKeys: expected an integer >= 1/);
    }
    const ps = await fx.open({}, { workerThreads: 1 }, Infinity);
    const keys = fx.ranked(0, 10);
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    await ps.close();
  } finally {
    fx.dir.remove();
  }
});

test.run();
