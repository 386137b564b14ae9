import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ParameterServer } from '../engine/index.js';
import { PipelineFixture, hitsSince } from './helpers/pipeline-fixture.js';
import { AsyncFakeCache } from './helpers/async-cache.js';
import { randomVectors } from './helpers/lmdb-random.js';
import { rng } from './helpers/random.js';

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


/** Rows of `keys` in a reference Map (updated alongside the servers), the default vector elsewhere. */
function expectedOf(ref: Map<bigint, Float32Array>, keys: BigInt64Array, defaultValue: number): Float32Array {
  const out = new Float32Array(keys.length * DIM);
  keys.forEach((k, i) => {
    const row = ref.get(k);
    if (row) out.set(row, i * DIM);
    else out.fill(defaultValue, i * DIM, (i + 1) * DIM);
  });
  return out;
}

function pooledRef(rows: Float32Array, offsets: Uint32Array, combiner: 'sum' | 'mean' | 'sqrtn', w: Float32Array | null): Float64Array {
  const r = offsets.length - 1;
  const out = new Float64Array(r * DIM);
  for (let i = 0; i < r; i++) {
    let norm = 0;
    for (let j = offsets[i]; j < offsets[i + 1]; j++) {
      const wj = w ? w[j] : 1;
      for (let d = 0; d < DIM; d++) out[i * DIM + d] += wj * rows[j * DIM + d];
      norm += combiner === 'sqrtn' ? wj * wj : wj;
    }
    const div = combiner === 'sum' ? 1 : combiner === 'mean' ? norm : Math.sqrt(norm);
    for (let d = 0; d < DIM; d++) out[i * DIM + d] = offsets[i + 1] === offsets[i] || div === 0 ? 0 : out[i * DIM + d] / div;
  }
  return out;
}

function close(a: Float32Array, b: Float64Array | Float32Array, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(b[i])))) assert.unreachable(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

for (const workers of [0, 2]) {
  test(`random lookups, lookupMany, pooled lookups, updates, erases and prefetches give the same rows through the WASM L1 and an awaited L1 (${workers ? 'split over 2 workers' : 'inline'})`, async () => {
    const split = workers ? 64 : undefined;
    const wasmFx = fixture();
    const wasm = await wasmFx.open({ l1Backend: 'wasm' }, { workerThreads: workers }, split);
    const { ps: fake, fakes } = await openFake(fixture(), {}, { workerThreads: workers }, split);
    const ref = new Map(wasmFx.reference);
    const rand = rng(1000 + workers);
    const pick = (n: number) => BigInt64Array.from({ length: n }, () => {
      const u = rand();
      return u < 0.08 ? wasmFx.absent(200)[Math.floor(rand() * 200)] : wasmFx.keys[Math.floor(u * u * N)];
    });
    try {
      for (let round = 0; round < 40; round++) {
        const op = Math.floor(rand() * 6);
        const keys = pick(1 + Math.floor(rand() * 600));
        if (op <= 1) {
          const [a, b] = await Promise.all([wasm.lookup('m', 't', keys), fake.lookup('m', 't', keys)]);
          const want = expectedOf(ref, keys, wasmFx.defaultValue);
          assert.equal(b, a, `round ${round}: lookup`);
          assert.equal(a, want, `round ${round}: lookup vs reference`);
        } else if (op === 2) {
          const other = pick(50);
          const specs = [{ table: 't', keys }, { table: 0, keys: other }];
          const [a, b] = await Promise.all([wasm.lookupMany('m', specs), fake.lookupMany('m', specs)]);
          assert.equal(b, a, `round ${round}: lookupMany`);
          assert.equal(b[1], expectedOf(ref, other, wasmFx.defaultValue));
        } else if (op === 3) {
          const rows = 1 + Math.floor(rand() * 40);
          const offsets = new Uint32Array(rows + 1);
          for (let r = 1; r <= rows; r++) offsets[r] = r === rows ? keys.length : Math.min(keys.length, offsets[r - 1] + Math.floor(rand() * (2 * keys.length / rows)));
          const combiner = (['sum', 'mean', 'sqrtn'] as const)[round % 3];
          const weights = rand() < 0.5 ? randomVectors(keys.length, 1, round) : undefined;
          const [a, b] = await Promise.all([
            wasm.lookupPooled('m', 't', keys, offsets, { combiner, weights }),
            fake.lookupPooled('m', 't', keys, offsets, { combiner, weights }),
          ]);
          close(b, a, `round ${round}: pooled ${combiner}`);
          close(b, pooledRef(expectedOf(ref, keys, wasmFx.defaultValue), offsets, combiner, weights ?? null), `round ${round}: pooled vs reference`);
        } else if (op === 4) {
          const distinct = BigInt64Array.from(new Set(keys));
          if (rand() < 0.6) {
            const vectors = randomVectors(distinct.length, DIM, 500 + round);
            await Promise.all([wasm.update('m', 't', distinct, vectors), fake.update('m', 't', distinct, vectors)]);
            distinct.forEach((k, i) => ref.set(k, vectors.slice(i * DIM, (i + 1) * DIM)));
          } else {
            const gone = distinct.subarray(0, Math.ceil(distinct.length / 4));
            await Promise.all([wasm.erase('m', 't', gone), fake.erase('m', 't', gone)]);
            gone.forEach((k) => ref.delete(k));
          }
        } else {
          await Promise.all([wasm.prefetch('m', 't', keys), fake.prefetch('m', 't', keys)]);
        }
      }
      const s = fake.stats()[0];
      assert.is(s.l1Cache?.kind, 'async-fake');
      assert.ok(fakes[0].calls.query > 0 && s.l1.hits > 0 && fakes[0].calls.insert > 0, `the awaited L1 served: ${JSON.stringify(fakes[0].calls)}, ${s.l1.hits} L1 hits`);
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
