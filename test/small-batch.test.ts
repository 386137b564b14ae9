import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmEmbeddingCache } from '../engine/cache/wasm-cache.js';
import { PipelineFixture, hitsSince } from './helpers/pipeline-fixture.js';
import { randomBitKeys, rng } from './helpers/random.js';
import { throwsHps } from './helpers/expect-error.js';

/** Random keys drawn from `pool` with repeats, in random order. */
function drawn(rand: () => number, pool: BigInt64Array, n: number): BigInt64Array {
  return BigInt64Array.from({ length: n }, () => pool[Math.floor(rand() * pool.length)]);
}

test('serveBegin / serveFinish: dedup, one probe per distinct key, rows at every position; misses filled by the caller', () => {
  const dim = 12, rand = rng(5);
  const cache = WasmEmbeddingCache.create({ dim, capacity: 4096 });
  const cached = randomBitKeys(rand, 300), absent = randomBitKeys(rand, 100);
  const rows = new Float32Array(cached.length * dim).map(() => rand() * 2 - 1);
  cache.insertSync(cached, rows);
  const reference = new Map<bigint, Float32Array>();
  cached.forEach((k, i) => reference.set(k, rows.subarray(i * dim, (i + 1) * dim)));
  const both = new BigInt64Array([...cached, ...absent]);
  for (const n of [1, 7, 256, cache.smallBatchKeys]) {
    const keys = drawn(rand, both, n);
    const before = cache.stats();
    const m = cache.serveBegin(keys);
    // The reference: distinct keys in first-occurrence order, those not cached are the misses.
    const distinct = [...new Set(keys)];
    const missed = distinct.filter((k) => !reference.has(k));
    assert.is(cache.serveDistinct(), distinct.length);
    assert.is(m, missed.length);
    assert.equal([...cache.serveMissedKeys(m)], missed);
    const after = cache.stats();
    assert.is(after.hits - before.hits, distinct.length - missed.length, 'one hit per distinct key');
    assert.is(after.misses - before.misses, missed.length, 'one miss per distinct key');
    // The lower tiers' answer for the missed keys: a value derived from the key.
    const fill = cache.serveMissedRows(m);
    missed.forEach((k, j) => fill.fill(Number(BigInt.asUintN(16, k)), j * dim, (j + 1) * dim));
    const out = new Float32Array(n * dim).fill(NaN);
    cache.serveFinish(out, n, m);
    keys.forEach((k, i) => {
      const want = reference.get(k) ?? new Float32Array(dim).fill(Number(BigInt.asUintN(16, k)));
      assert.equal(out.subarray(i * dim, (i + 1) * dim), want, `row ${i} of ${n}`);
    });
  }
  throwsHps(() => cache.serveBegin(new BigInt64Array(cache.smallBatchKeys + 1)), 'BAD_KEY', /at most smallBatchKeys/);
  throwsHps(() => cache.serveFinish(new Float32Array(3), 2, 0), 'BAD_OUTPUT', /2 x 12 = 24 floats/);
});

// 4000 rows: warm-up puts ranks [0, 1000) in L2 and the first rows L1 holds in L1; the rest only in L3.
const fx = new PipelineFixture(4000, 16, 23);
test.after(() => fx.dir.remove());

test('small batches through lookupSync and lookup match the reference from every tier, repeats and absent keys included', async () => {
  const ps = await fx.open({ l1CacheFraction: 0.1 });
  try {
    const rand = rng(9);
    const pool = new BigInt64Array([...fx.keys, ...fx.absent(200)]);
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(rand() * 300);
      const keys = drawn(rand, pool, n);
      const sync = ps.lookupSync('m', 't', keys);
      assert.equal(sync, fx.expected(keys), `lookupSync round ${round} (${n} keys)`);
      assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys), `lookup round ${round}`);
    }
    // What a small batch fetched from below was cached in L1 (hit rate below the threshold): asked
    // again, every distinct key hits L1.
    const keys = drawn(rand, fx.ranked(2000, 2100), 256);
    ps.lookupSync('m', 't', keys);
    const before = ps.stats()[0];
    const out = new Float32Array(256 * fx.dim);
    assert.is(ps.lookupSync('m', 't', keys, out), out);
    assert.equal(out, fx.expected(keys));
    const distinct = new Set(keys).size;
    assert.equal(hitsSince(ps, before), { l1: distinct, l2: 0, l3: 0, defaults: 0 });
    assert.is(ps.stats()[0].uniqueKeys - before.uniqueKeys, distinct);
  } finally {
    await ps.close();
  }
});

test("small batches in HPS's approximate mode answer L1 misses with the default vector, then cache the real rows", async () => {
  const ps = await fx.open({ hitRateThreshold: 0, approximateOnHighHitRate: true });
  try {
    const keys = fx.ranked(3000, 3020);
    const first = ps.lookupSync('m', 't', keys);
    assert.equal(first, new Float32Array(keys.length * fx.dim).fill(fx.defaultValue));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ps.lookupSync('m', 't', keys), fx.expected(keys));
  } finally {
    await ps.close();
  }
});

test.run();
