import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ParameterServer } from '../engine/index.js';
import { PipelineFixture, hitsSince } from './helpers/pipeline-fixture.js';
import { AsyncFakeCache } from './helpers/async-cache.js';
import { randomVectors } from './helpers/lmdb-random.js';
import { rng } from './helpers/random.js';
import { sameAsWasm } from './helpers/l1-equality.js';

// The pipeline with an L1 that answers with promises (as the GPU cache does), on machines without a
// GPU: the same requests through the WASM L1 and through AsyncFakeCache must give the same rows, and
// the awaited path must keep the L1 rules (threshold, approximate mode, the write-epoch guard).
const N = 4000;
const DIM = 8;
// Each server writes its own store: fixtures of the same seed hold the same rows.
const fixtures: PipelineFixture[] = [];
const fixture = () => {
  const fx = new PipelineFixture(N, DIM, 21);
  fixtures.push(fx);
  return fx;
};
const fakeFx = fixture();
test.after(() => fixtures.forEach((fx) => fx.dir.remove()));

function openFake(fx: PipelineFixture, model: object = {}, extra: object = {}, splitMinKeys?: number): Promise<{ ps: ParameterServer; fakes: AsyncFakeCache[] }> {
  const fakes: AsyncFakeCache[] = [];
  return ParameterServer.open(fx.options(model, extra), {
    progress: false, log: () => {}, splitMinKeys,
    l1Cache: (spec) => {
      const fake = new AsyncFakeCache(spec.dim, spec.capacity, fakes.length + 7);
      fakes.push(fake);
      return fake;
    },
  }).then((ps) => ({ ps, fakes }));
}


for (const workers of [0, 2]) {
  test(`random lookups, lookupMany, pooled lookups, updates, erases and prefetches give the same rows through the WASM L1 and an awaited L1 (${workers ? 'split over 2 workers' : 'inline'})`, async () => {
    const split = workers ? 64 : undefined;
    const wasmFx = fixture();
    const wasm = await wasmFx.open({ l1Backend: 'wasm' }, { workerThreads: workers }, split);
    const { ps: fake, fakes } = await openFake(fixture(), {}, { workerThreads: workers }, split);
    try {
      await sameAsWasm(wasm, fake, wasmFx, 1000 + workers);
      const s = fake.stats()[0];
      assert.is(s.l1Cache?.kind, 'async-fake');
      assert.ok(fakes[0].calls.query > 0 && fakes[0].calls.pooled > 0 && s.l1.hits > 0 && fakes[0].calls.insert > 0, `the awaited L1 served: ${JSON.stringify(fakes[0].calls)}, ${s.l1.hits} L1 hits`);
      assert.is(s.l1.hits + s.l2.hits + s.l3.hits + s.defaults, s.uniqueKeys, 'every distinct key counted in one tier');
    } finally {
      await wasm.close();
      await fake.close();
    }
  });
}

test('an awaited L1 keeps the threshold rules: below it fetched rows are cached before the lookup resolves, at or above it afterwards', async () => {
  const { ps, fakes } = await openFake(fakeFx, { hitRateThreshold: 0.5 });
  try {
    const cold = fakeFx.ranked(2000, 2040);
    assert.equal(await ps.lookup('m', 't', cold), fakeFx.expected(cold));
    assert.ok(cold.every((k) => fakes[0].has(k)), 'hit rate 0 < 0.5: inserted before the lookup resolved');
    // 40 hits and 10 misses: hit rate 0.8, at or above the threshold, so the insertion is deferred.
    const mixed = new BigInt64Array([...cold, ...fakeFx.ranked(2100, 2110)]);
    assert.equal(await ps.lookup('m', 't', mixed), fakeFx.expected(mixed));
    assert.ok(!fakes[0].has(mixed[45]), 'not yet inserted when the lookup resolved');
    for (let i = 0; i < 200 && !fakes[0].has(mixed[45]); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(mixed.every((k) => fakes[0].has(k)), 'inserted afterwards');
    const before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', mixed), fakeFx.expected(mixed));
    assert.equal(hitsSince(ps, before).l1, 50);
  } finally {
    await ps.close();
  }
});

test("an awaited L1 in HPS's approximate mode answers misses with the default vector, then caches the real rows", async () => {
  const { ps, fakes } = await openFake(fakeFx, { hitRateThreshold: 0, approximateOnHighHitRate: true });
  try {
    const keys = fakeFx.ranked(3100, 3120);
    assert.equal(await ps.lookup('m', 't', keys), new Float32Array(20 * DIM).fill(fakeFx.defaultValue));
    for (let i = 0; i < 200 && !keys.every((k) => fakes[0].has(k)); i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await ps.lookup('m', 't', keys), fakeFx.expected(keys));
  } finally {
    await ps.close();
  }
});

test('an awaited L1 never keeps a row older than a write: lookups racing updates see whole old or new rows, and every update once it resolved', async () => {
  const { ps } = await openFake(fakeFx, { hitRateThreshold: 0.5 });
  const keys = fakeFx.ranked(3300, 3364);
  try {
    let current = fakeFx.expected(keys);
    for (let round = 0; round < 30; round++) {
      const old = current;
      const next = randomVectors(keys.length, DIM, 900 + round);
      // The racing lookup misses L1 (erased by the last update's guard or never cached) and reads below
      // while the update runs: whatever it caches must not outlive the update.
      const racing = ps.lookup('m', 't', keys);
      const writing = ps.update('m', 't', keys, next);
      const [seen] = await Promise.all([racing, writing]);
      for (let i = 0; i < keys.length; i++) {
        const row = seen.subarray(i * DIM, (i + 1) * DIM);
        const isOld = row.every((v, d) => v === old[i * DIM + d]);
        const isNew = row.every((v, d) => v === next[i * DIM + d]);
        assert.ok(isOld || isNew, `round ${round} key ${i}: a mixed row`);
      }
      current = next;
      await new Promise((r) => setTimeout(r, rng(round)() * 3));
      assert.equal(await ps.lookup('m', 't', keys), current, `round ${round}: the update is seen once it resolved`);
      assert.equal(await ps.lookup('m', 't', keys), current, `round ${round}: and stays (nothing stale was cached)`);
    }
  } finally {
    await ps.close();
  }
  // Put the original rows back for the other tests.
  const { ps: again } = await openFake(fakeFx);
  await again.update('m', 't', keys, fakeFx.expected(keys));
  await again.close();
});

test.run();
