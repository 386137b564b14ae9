import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LmdbStore } from '../engine/index.js';
import { join } from 'node:path';
import { PipelineFixture, hitsSince, nextTurn } from './helpers/pipeline-fixture.js';
import { randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';
import { loadNative } from '../engine/native.js';

// 4000 rows: warm-up puts ranks [0, 1000) in L2 (initialCacheRate 0.25) and the first rows L1 holds
// (0.2 x 4000 = 800) in L1; ranks >= 1000 are only in L3.
const fx = new PipelineFixture(4000, 8, 11);
test.after(() => fx.dir.remove());

test('keys only in L3, only in L2, in L1 and nowhere each come from their tier, match the files, and L3 hits are cached in L1 synchronously below the hit-rate threshold', async () => {
  const ps = await fx.open();
  try {
    const l3Only = fx.ranked(2000, 2050);
    let before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', l3Only), fx.expected(l3Only));
    assert.equal(hitsSince(ps, before), { l1: 0, l2: 0, l3: 50, defaults: 0 });
    before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', l3Only), fx.expected(l3Only));
    assert.equal(hitsSince(ps, before), { l1: 50, l2: 0, l3: 0, defaults: 0 });

    const l2Only = fx.ranked(900, 950);
    before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', l2Only), fx.expected(l2Only));
    assert.equal(hitsSince(ps, before), { l1: 0, l2: 50, l3: 0, defaults: 0 });

    const warmL1 = fx.ranked(0, 50);
    before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', warmL1), fx.expected(warmL1));
    const h = hitsSince(ps, before);
    // Warm-up filled L1 to capacity: within a full set, later rows evicted some earlier ones.
    assert.ok(h.l1 > 0, `the first rows were warmed into L1, saw ${h.l1} L1 hits`);
    assert.is(h.l1 + h.l2, 50);

    // A mixed batch with repeats and absent keys, in random order.
    const absent = fx.absent(30);
    const mixed = new BigInt64Array(500);
    for (let i = 0; i < mixed.length; i++) {
      const pick = (i * 2654435761) % 4000;
      mixed[i] = i % 10 === 0 ? absent[i % 30] : fx.keys[pick];
    }
    assert.equal(await ps.lookup('m', 't', mixed), fx.expected(mixed));
    assert.is(ps.stats()[0].l1Cache?.kind, loadNative().ok ? 'cuda' : 'wasm', 'L1 is the GPU cache where a GPU is found');
  } finally {
    await ps.close();
  }
});

test('at or above the hit-rate threshold the L1 insertion is deferred, then becomes visible', async () => {
  const ps = await fx.open({ hitRateThreshold: 0 });
  try {
    const keys = fx.ranked(3000, 3040);
    const inserted = ps.stats()[0].l1Cache!.insertions;
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    assert.is(ps.stats()[0].l1Cache!.insertions, inserted, 'not inserted when the lookup resolves: the insertion waits');
    // Started on the next turn of the event loop (a GPU insertion then completes asynchronously).
    await nextTurn();
    for (let i = 0; i < 200 && ps.stats()[0].l1Cache!.insertions < inserted + 40; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(ps.stats()[0].l1Cache!.insertions, inserted + 40, 'inserted after the lookup resolved');
    const before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    assert.equal(hitsSince(ps, before).l1, 40);
  } finally {
    await ps.close();
  }
});

test('deferred insertions also run when lookups are awaited back to back, with no turn of the event loop between them', async () => {
  const ps = await fx.open({ hitRateThreshold: 0 });
  try {
    const keys = fx.ranked(3050, 3080);
    await ps.lookup('m', 't', keys);
    const before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    assert.equal(hitsSince(ps, before).l1, 30, 'the second lookup ran the first one\'s deferred insertion first');
  } finally {
    await ps.close();
  }
});

test("HPS's approximate mode answers L1 misses with the default vector at or above the threshold, and caches the real rows for later", async () => {
  const ps = await fx.open({ hitRateThreshold: 0, approximateOnHighHitRate: true });
  try {
    const keys = fx.ranked(3100, 3120);
    const first = await ps.lookup('m', 't', keys);
    assert.equal(first, new Float32Array(20 * fx.dim).fill(fx.defaultValue));
    await nextTurn();
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
  } finally {
    await ps.close();
  }
  // The default (exact) mode never answers a stored key with the default vector.
  const exact = await fx.open({ hitRateThreshold: 0 });
  try {
    const keys = fx.ranked(3200, 3220);
    assert.equal(await exact.lookup('m', 't', keys), fx.expected(keys));
  } finally {
    await exact.close();
  }
});

test('cache_missed_embeddings puts L3 hits into L2; prefetch warms L1', async () => {
  const ps = await fx.open({}, { volatileDb: { type: 'hash_map', numPartitions: 2, initialCacheRate: 0.25, cacheMissedEmbeddings: true } });
  try {
    const size = ps.stats()[0].l2Arena!.size;
    const keys = fx.ranked(2500, 2560);
    await ps.lookup('m', 't', keys);
    await nextTurn();
    assert.is(ps.stats()[0].l2Arena!.size, size + 60);

    const later = fx.ranked(3500, 3530);
    await ps.prefetch('m', 't', later);
    const before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', later), fx.expected(later));
    assert.equal(hitsSince(ps, before).l1, 30);
  } finally {
    await ps.close();
  }
});

test('cache_missed_embeddings without L1 caches the exact rows in L2, even when the request buffers are reused before the deferred insertion runs', async () => {
  const ps = await fx.open({}, {
    volatileDb: { type: 'hash_map', numPartitions: 2, initialCacheRate: 0.25, cacheMissedEmbeddings: true },
    models: [{
      name: 'm', l1Enabled: false,
      tables: ['t', 'u'].map((name) => ({ name, dim: fx.dim, defaultValue: fx.defaultValue, sparseFile: 'model/t' })),
    }],
  });
  try {
    const withRepeats = (from: number) => {
      const distinct = fx.ranked(from, from + 40);
      return BigInt64Array.from({ length: 100 }, (_, i) => distinct[(i * 7) % 40]);
    };
    const first = withRepeats(2600);
    assert.equal(await ps.lookup('m', 't', first), fx.expected(first));
    // Another table's request before the deferred insertion runs reuses the kernels' staging memory.
    const second = withRepeats(2700);
    assert.equal(await ps.lookup('m', 'u', second), fx.expected(second));
    await nextTurn();
    const before = ps.stats()[0];
    assert.equal(await ps.lookup('m', 't', first), fx.expected(first));
    assert.equal(hitsSince(ps, before), { l1: 0, l2: 40, l3: 0, defaults: 0 });
  } finally {
    await ps.close();
  }
});

test('pooled lookups (sum, mean, sqrtn; with and without weights; empty rows) equal a float64 reference', async () => {
  const ps = await fx.open();
  try {
    const rows = 60;
    const offsets = new Uint32Array(rows + 1);
    const picks: bigint[] = [];
    for (let r = 0; r < rows; r++) {
      const len = r % 7 === 0 ? 0 : 1 + ((r * 37) % 9);
      for (let j = 0; j < len; j++) picks.push(j === 3 ? fx.absent(1)[0] : fx.keys[(r * 131 + j * 17) % 4000]);
      offsets[r + 1] = picks.length;
    }
    const keys = BigInt64Array.from(picks);
    const weights = randomVectors(keys.length, 1, 5);
    for (const combiner of ['sum', 'mean', 'sqrtn'] as const) {
      for (const w of [null, weights]) {
        const got = await ps.lookupPooled('m', 't', keys, offsets, { combiner, weights: w ?? undefined });
        const rowsOf = fx.expected(keys);
        for (let r = 0; r < rows; r++) {
          const want = new Float64Array(fx.dim);
          let norm = 0;
          for (let j = offsets[r]; j < offsets[r + 1]; j++) {
            const wj = w ? w[j] : 1;
            for (let d = 0; d < fx.dim; d++) want[d] += wj * rowsOf[j * fx.dim + d];
            norm += combiner === 'sqrtn' ? wj * wj : wj;
          }
          const div = combiner === 'sum' ? 1 : combiner === 'mean' ? norm : Math.sqrt(norm);
          for (let d = 0; d < fx.dim; d++) {
            const expect = offsets[r + 1] === offsets[r] || div === 0 ? 0 : want[d] / div;
            const actual = got[r * fx.dim + d];
            assert.ok(Math.abs(actual - expect) <= 1e-5 * (1 + Math.abs(expect)), `${combiner}${w ? ' weighted' : ''} row ${r} dim ${d}: ${actual} vs ${expect}`);
          }
        }
      }
    }
    // HPS's SparseLookupLayer default: no combiner given means mean.
    assert.equal(await ps.lookupPooled('m', 't', keys, offsets), await ps.lookupPooled('m', 't', keys, offsets, { combiner: 'mean' }));
    // The synchronous path serves a WASM L1 on the calling thread; a CUDA L1 (picked by `auto` on a GPU
    // machine) is refused by it, as documented.
    if (ps.tableInfo('m', 't').tiers.includes('l1:cuda')) await expectError(async () => ps.lookupPooledSync('m', 't', keys, offsets), 'BAD_CONFIG', /cannot be read synchronously: it has a cuda L1 cache/);
    else assert.equal(ps.lookupPooledSync('m', 't', keys, offsets), await ps.lookupPooled('m', 't', keys, offsets, { combiner: 'mean' }));
    assert.not.equal(await ps.lookupPooled('m', 't', keys, offsets), await ps.lookupPooled('m', 't', keys, offsets, { combiner: 'sum' }));
    await expectError(() => ps.lookupPooled('m', 't', keys, offsets, { combiner: 'max' as never }), 'BAD_ARGUMENT', /options.combiner: expected 'mean', 'sum' or 'sqrtn', got string "max"/);
    await expectError(() => ps.lookupPooled('m', 't', keys, [0, 5, 3, keys.length]), 'BAD_OFFSETS', /offsets\[2\]: 3 is not valid/);
    await expectError(() => ps.lookupPooled('m', 't', keys, [0, 4]), 'BAD_OFFSETS', /ending at keys.length/);
  } finally {
    await ps.close();
  }
});

test('update and erase reach every tier and persist; bad writes change nothing', async () => {
  const ps = await fx.open();
  const keys = new BigInt64Array([...fx.ranked(0, 20), ...fx.ranked(900, 920), ...fx.ranked(3000, 3020), ...fx.absent(20)]);
  const fresh = randomVectors(keys.length, fx.dim, 99);
  try {
    await ps.lookup('m', 't', fx.ranked(3000, 3020)); // cached in L1 now
    await ps.update('m', 't', keys, fresh);
    assert.equal(await ps.lookup('m', 't', keys), fresh);
    const gone = keys.subarray(10, 70);
    await ps.erase('m', 't', gone);
    const want = fresh.slice();
    want.fill(fx.defaultValue, 10 * fx.dim, 70 * fx.dim);
    assert.equal(await ps.lookup('m', 't', keys), want);

    const snapshot = await ps.lookup('m', 't', keys);
    await expectError(() => ps.update('m', 't', keys, new Float32Array(keys.length * fx.dim - 1)), 'BAD_VECTOR', /vectors hold 639 floats, expected 80 keys x dim 8 = 640/);
    await expectError(() => ps.update('m', 't', [1, 2.5], new Float32Array(2 * fx.dim)), 'BAD_KEY', /keys\[1\]: key 2.5/);
    assert.equal(await ps.lookup('m', 't', keys), snapshot);
  } finally {
    await ps.close();
  }
  // The writes are in L3: a new server (cold caches) sees them.
  const again = await fx.open();
  try {
    const want = fresh.slice();
    want.fill(fx.defaultValue, 10 * fx.dim, 70 * fx.dim);
    assert.equal(await again.lookup('m', 't', keys), want);
  } finally {
    await again.close();
  }
  const readOnly = await fx.open({}, { persistentDb: { path: 'store', readOnly: true } });
  try {
    await expectError(() => readOnly.update('m', 't', keys, fresh), 'READ_ONLY', /read-only/);
  } finally {
    await readOnly.close();
  }
});

test('a cache refresh re-reads cached rows from the tiers below', async () => {
  const ps = await fx.open({ cacheRefreshFraction: 1 });
  const keys = fx.ranked(3300, 3310);
  try {
    await ps.lookup('m', 't', keys); // into L1
    // Change L3 behind the server's back (as another process would).
    const other = LmdbStore.open(join(fx.dir.path, 'store'), 'm');
    const changed = randomVectors(keys.length, fx.dim, 123);
    other.put('t', keys, changed);
    await nextTurn(); // LMDB read snapshots are renewed per event-loop turn
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys), 'stale from L1 before the refresh');
    await ps.refreshCaches();
    assert.equal(await ps.lookup('m', 't', keys), changed);
    other.put('t', keys, fx.expected(keys));
  } finally {
    await ps.close();
  }
});

test('importing a table again replaces what its caches held', async () => {
  const dir = tempDir('pipeline-reimport');
  const ps = await fx.open();
  try {
    const keys = fx.ranked(0, 300);
    await ps.lookup('m', 't', keys); // in L1 and L2 now
    const replaced = randomVectors(keys.length, fx.dim, 77);
    writeHugeCtr(join(dir.path, 'new'), keys, replaced);
    await ps.importTable('m', 't', { format: 'hugectr', folder: join(dir.path, 'new') });
    assert.equal(await ps.lookup('m', 't', keys), replaced);
    assert.equal(await ps.lookup('m', 't', fx.ranked(300, 310)), new Float32Array(10 * fx.dim).fill(fx.defaultValue));
  } finally {
    await ps.close();
    dir.remove();
  }
});

test('requests split across worker threads (repeats, absent keys, plain and SharedArrayBuffer outputs at an offset) match the reference', async () => {
  const ps = await fx.open({}, { workerThreads: 2 }, 64);
  try {
    const keys = new BigInt64Array(3000);
    const absent = fx.absent(50);
    for (let i = 0; i < keys.length; i++) keys[i] = i % 17 === 0 ? absent[i % 50] : fx.keys[(i * 7) % 1500];
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    const shared = new Float32Array(new SharedArrayBuffer((keys.length + 3) * fx.dim * 4), 3 * fx.dim * 4, keys.length * fx.dim);
    await ps.lookup('m', 't', keys, shared);
    assert.equal(shared.slice(), fx.expected(keys));
    const s = ps.stats()[0];
    assert.is(s.l1.hits + s.l2.hits + s.l3.hits + s.defaults, s.uniqueKeys);
  } finally {
    await ps.close();
  }
});

test('several models and tables are served by one server, each with its own tiers and stats', async () => {
  const ps = await fx.open({}, {
    models: [
      { name: 'm', l1CacheFraction: 0.2, tables: [{ name: 't', dim: fx.dim, defaultValue: fx.defaultValue, sparseFile: 'model/t' }, { name: 'side', dim: 3, defaultValue: 2 }] },
      { name: 'other', tables: [{ name: 'u', dim: fx.dim, defaultValue: 1, sparseFile: 'model/t' }] },
    ],
  });
  try {
    const keys = fx.ranked(100, 400);
    assert.equal(await ps.lookup('m', 't', keys), fx.expected(keys));
    assert.equal(await ps.lookup('other', 'u', keys), fx.expected(keys));
    assert.equal(await ps.lookup('m', 'side', [1, 2]), new Float32Array(6).fill(2));
    const stats = ps.stats();
    assert.equal(stats.map((s) => [s.model, s.table, s.lookups]), [['m', 't', 1], ['m', 'side', 1], ['other', 'u', 1]]);
    assert.ok(stats[0].latency.lookup.p99Us > 0);
  } finally {
    await ps.close();
  }
});

test.run();
