// ParameterServer.lookupSync / lookupPooledSync, the synchronous inline path the TF.js layers use: the
// same rows as the promise-returning lookups (repeats, absent keys, every tier), with worker threads
// configured and batches above the split size (which the synchronous path never splits), and bad input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { randomInt64Keys, randomVectors, rng, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { throwsHps } from './helpers/expect-error.js';

const dir = tempDir('lookup-sync');
test.after(() => dir.remove());

const rows = 5000;
const dim = 12;
const keys = randomInt64Keys(rows, 131);
const vectors = randomVectors(rows, dim, 132);
writeHugeCtr(join(dir.path, 'emb'), keys, vectors);

const options: HpsOptions = {
  baseDir: dir.path,
  // L2 holds half the table, L1 a tenth: lookups reach L3 too.
  models: [{ name: 'm', l1CacheFraction: 0.1, tables: [{ name: 'emb', dim, defaultValue: -0.25, sparseFile: 'emb' }] }],
  volatileDb: { initialCacheRate: 0.5 },
  persistentDb: { path: 'store' },
  workerThreads: 1,
};

/** `n` keys drawn from the table with repeats, every 17th one absent from it. */
function batch(n: number, seed: number): BigInt64Array {
  const next = rng(seed);
  return BigInt64Array.from({ length: n }, (_, i) => (i % 17 === 5 ? BigInt(next()) * 1_000_003n + 7n : keys[next() % (rows / 4)]));
}

test('lookupSync returns what lookup returns, for small batches and batches above the split size', async () => {
  const ps = await ParameterServer.open(options, { progress: false, splitMinKeys: 1024 });
  try {
    for (const [n, seed] of [[1, 1], [300, 2], [4096, 3]] as const) {
      const k = batch(n, seed);
      const expected = await ps.lookup('m', 'emb', k);
      const out = new Float32Array(n * dim);
      const got = ps.lookupSync('m', 0, k, out);
      assert.is(got, out, 'writes into the given output');
      assert.equal(got, expected, `batch of ${n}`);
      assert.ok(got.some((v) => v !== 0 && v !== -0.25), 'real rows, not only defaults');
      if (n > 17) assert.ok(got.includes(-0.25), 'absent keys get the default');
    }
    const stats = ps.stats()[0];
    assert.ok(stats.l1.hits > 0 && stats.l2.hits > 0 && stats.l3.hits > 0, 'every tier answered');
  } finally {
    await ps.close();
  }
});

test('lookupPooledSync returns what lookupPooled returns, every combiner, with and without weights', async () => {
  const ps = await ParameterServer.open(options, { progress: false });
  try {
    const next = rng(77);
    const offsets = [0];
    for (let r = 0; r < 200; r++) offsets.push(offsets[r] + (next() % 6)); // empty rows included
    const k = batch(offsets[offsets.length - 1], 9);
    const weights = Float32Array.from({ length: k.length }, () => (next() % 1000) / 250 - 2);
    for (const combiner of ['sum', 'mean', 'sqrtn'] as const) {
      for (const w of [undefined, weights]) {
        const expected = await ps.lookupPooled('m', 'emb', k, offsets, { combiner, weights: w });
        assert.equal(ps.lookupPooledSync('m', 'emb', k, Uint32Array.from(offsets), { combiner, weights: w }), expected, `${combiner} ${w ? 'weighted' : ''}`);
      }
    }
  } finally {
    await ps.close();
  }
});

test('the synchronous lookups check their input as the others do', async () => {
  const ps = await ParameterServer.open(options, { progress: false });
  try {
    throwsHps(() => ps.lookupSync('m', 'emb', [1, 2.5]), 'BAD_KEY', /keys\[1\]/);
    throwsHps(() => ps.lookupSync('m', 'emb', [1, 2], new Float32Array(3)), 'BAD_OUTPUT', /24/);
    throwsHps(() => ps.lookupSync('m', 'nope', [1]), 'UNKNOWN_TABLE', /nope/);
    throwsHps(() => ps.lookupPooledSync('m', 'emb', [1, 2], [0, 1]), 'BAD_OFFSETS', /offsets/);
    throwsHps(() => ps.lookupPooledSync('m', 'emb', [1, 2], [0, 2], { out: new Float32Array(5) }), 'BAD_OUTPUT', /options\.out/);
  } finally {
    await ps.close();
  }
  throwsHps(() => ps.lookupSync('m', 'emb', [1]), 'CLOSED', /closed/);
});

test.run();
