import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hitsSince, PipelineFixture } from './helpers/pipeline-fixture.js';

// prefetch resolves once L1 and L2 hold the rows: checked before the event loop turns, when work
// deferred off the request path would not have run yet.

for (const workers of [0, 2]) {
  test(`when prefetch resolves, L2 and L1 already hold every fetched row (${workers} workers)`, async () => {
    const fx = new PipelineFixture(3000, 8, 81);
    const ps = await fx.open({ l1CacheFraction: 0.5 }, { workerThreads: workers, volatileDb: { type: 'hash_map', numPartitions: 2, initialCacheRate: 0 } }, 64);
    try {
      const l2Before = ps.stats()[0].l2Arena!.size;
      assert.is(l2Before, 0, 'initial_cache_rate 0: L2 starts empty');
      const keys = fx.ranked(2000, 2400); // beyond the rows warm-up put in L1
      await ps.prefetch('m', 't', keys);
      const after = ps.stats()[0];
      assert.is(after.l2Arena!.size, keys.length, 'every prefetched key is in L2 at once');
      const before = after;
      assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
      const hits = hitsSince(ps, before);
      assert.is(hits.l3, 0, 'nothing prefetched is read from L3 again');
      assert.is(hits.l1 + hits.l2, keys.length);
    } finally {
      await ps.close();
      fx.dir.remove();
    }
  });
}

test.run();
