// The TF.js layers (hps-node/tfjs) against plain lookups followed by the combiner in JS, on random
// ragged batches with weights, in both input forms of the sparse layer, alone and inside a model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { HpsLookupLayer, HpsSparseLookupLayer } from '../engine/integrations/tfjs/index.js';
import { randomVectors, rng, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { throwsHps } from './helpers/expect-error.js';

const dir = tempDir('tfjs-layers');
const rows = 3000;
const dims = { a: 8, b: 5 };
// Keys that fit int32 (TF.js has no int64), negative ones included.
const keys = BigInt64Array.from({ length: rows }, (_, i) => BigInt((i * 2654435761) % 2 ** 31) - 2n ** 30n);
const vectors = { a: randomVectors(rows, dims.a, 201), b: randomVectors(rows, dims.b, 202) };
writeHugeCtr(join(dir.path, 'a'), keys, vectors.a);
writeHugeCtr(join(dir.path, 'b'), keys, vectors.b);
const options: HpsOptions = {
  baseDir: dir.path,
  models: [{ name: 'm', tables: [
    { name: 'a', dim: dims.a, defaultValue: 0.5, sparseFile: 'a' },
    { name: 'b', dim: dims.b, defaultValue: -1, sparseFile: 'b' },
  ] }],
  persistentDb: { path: 'store' },
  workerThreads: 0,
};
let ps: ParameterServer;
test.before(async () => {
  ps = await ParameterServer.open(options, { progress: false, log: () => {} });
});
test.after(async () => {
  await ps.close();
  dir.remove();
});

/** `n` ids from the table, every 13th absent from it (the default vector). */
function randomIds(n: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length: n }, (_, i) => (i % 13 === 4 ? 2 ** 30 + 7 + (next() % 1000) : Number(keys[next() % rows])));
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > 1e-5 * Math.max(1, Math.abs(expected[i]))) assert.unreachable(`${what}[${i}]: ${actual[i]} != ${expected[i]}`);
  }
}

/** The combiner applied in JS (float64) to plain lookups of each row's ids. */
async function pooledReference(table: 'a' | 'b', rowIds: number[][], rowWeights: number[][] | null, combiner: string): Promise<Float64Array> {
  const dim = dims[table];
  const out = new Float64Array(rowIds.length * dim);
  for (const [r, ids] of rowIds.entries()) {
    const v = await ps.lookup('m', table, Int32Array.from(ids));
    const w = rowWeights ? rowWeights[r] : ids.map(() => 1);
    const divisor = combiner === 'sum' ? 1 : combiner === 'mean' ? w.reduce((a, x) => a + x, 0) : Math.sqrt(w.reduce((a, x) => a + x * x, 0));
    for (let d = 0; d < dim; d++) {
      let sum = 0;
      ids.forEach((_, k) => (sum += w[k] * v[k * dim + d]));
      out[r * dim + d] = ids.length === 0 || divisor === 0 ? 0 : sum / divisor;
    }
  }
  return out;
}

/** A ragged batch: rows of 0 to 6 ids, with random weights. */
function raggedBatch(count: number, seed: number): { rowIds: number[][]; rowWeights: number[][] } {
  const next = rng(seed);
  const ids = randomIds(count * 6, seed + 1);
  let at = 0;
  const rowIds: number[][] = [];
  const rowWeights: number[][] = [];
  for (let r = 0; r < count; r++) {
    const n = next() % 7;
    rowIds.push(Array.from(ids.subarray(at, at + n)));
    rowWeights.push(Array.from({ length: n }, () => Math.fround((next() % 2000) / 500 - 1)));
    at += n;
  }
  return { rowIds, rowWeights };
}

test('HpsLookupLayer: ids of any shape in, the plain lookup of each id out (int32 and float32 ids)', async () => {
  const layer = new HpsLookupLayer({ ps, model: 'm', table: 'a' });
  const ids = randomIds(7 * 4, 5);
  const expected = await ps.lookup('m', 'a', ids);
  const out = layer.apply(tf.tensor2d(ids, [7, 4], 'int32')) as tf.Tensor;
  assert.equal(out.shape, [7, 4, dims.a]);
  assert.equal(Array.from(out.dataSync()), Array.from(expected));
  assert.ok(expected.includes(0.5) && expected.some((v) => v !== 0.5), 'stored rows and defaults');
  const small = Int32Array.from(ids, (v) => (Math.abs(v) <= 2 ** 24 ? v : 3));
  const byTable1 = new HpsLookupLayer({ ps, model: 'm', table: 1 });
  assert.equal(Array.from((byTable1.apply(tf.tensor1d(Array.from(small), 'float32')) as tf.Tensor).dataSync()), Array.from(await ps.lookup('m', 'b', small)));
  assert.equal(layer.computeOutputShape([null, 4]), [null, 4, dims.a]);
});

test('HpsLookupLayer inside a model: predict equals the same dense layer over plain lookups', async () => {
  const input = tf.input({ shape: [3], dtype: 'int32' });
  const embedded = new HpsLookupLayer({ ps, model: 'm', table: 'b' }).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, activation: 'sigmoid' });
  const model = tf.model({ inputs: input, outputs: dense.apply(tf.layers.flatten().apply(embedded)) as tf.SymbolicTensor });
  const ids = randomIds(40 * 3, 6);
  const predicted = (model.predict(tf.tensor2d(ids, [40, 3], 'int32')) as tf.Tensor).dataSync();
  const plain = tf.tensor2d(await ps.lookup('m', 'b', ids), [40, 3 * dims.b]);
  close(predicted, (dense.apply(plain) as tf.Tensor).dataSync(), 'predict');
});

for (const combiner of ['mean', 'sum', 'sqrtn'] as const) {
  test(`HpsSparseLookupLayer (${combiner}): CSR and padded ragged batches, with and without weights`, async () => {
    const layer = new HpsSparseLookupLayer({ ps, model: 'm', table: 'a', combiner });
    const { rowIds, rowWeights } = raggedBatch(60, combiner.length * 11);
    const values = tf.tensor1d(rowIds.flat(), 'int32');
    const splits = tf.tensor1d(rowIds.reduce((o, r) => [...o, o[o.length - 1] + r.length], [0]), 'int32');
    const width = Math.max(...rowIds.map((r) => r.length));
    const padded = tf.tensor2d(rowIds.flatMap((r) => [...r, ...new Array(width - r.length).fill(-1)]), [rowIds.length, width], 'int32');
    const paddedWeights = tf.tensor2d(rowWeights.flatMap((r) => [...r, ...new Array(width - r.length).fill(0)]), [rowIds.length, width]);
    const unweighted = await pooledReference('a', rowIds, null, combiner);
    const weighted = await pooledReference('a', rowIds, rowWeights, combiner);
    const run = (inputs: tf.Tensor | tf.Tensor[]) => {
      const out = layer.apply(inputs) as tf.Tensor;
      assert.equal(out.shape, [rowIds.length, dims.a]);
      return out.dataSync();
    };
    close(run([values, splits]), unweighted, 'CSR');
    close(run([values, splits, tf.tensor1d(rowWeights.flat())]), weighted, 'CSR weighted');
    close(run(padded), unweighted, 'padded');
    close(run([padded, paddedWeights]), weighted, 'padded weighted');
    assert.ok(unweighted.some((v) => v !== 0), 'real rows were combined');
  });
}

test('HpsSparseLookupLayer: the default combiner is mean, as HPS', async () => {
  const layer = new HpsSparseLookupLayer({ ps, model: 'm', table: 'b' });
  assert.is(layer.combiner, 'mean');
  const { rowIds } = raggedBatch(20, 99);
  const splits = rowIds.reduce((o, r) => [...o, o[o.length - 1] + r.length], [0]);
  const out = layer.apply([tf.tensor1d(rowIds.flat(), 'int32'), tf.tensor1d(splits, 'int32')]) as tf.Tensor;
  close(out.dataSync(), await pooledReference('b', rowIds, null, 'mean'), 'default combiner');
});

test('the layers reject bad ids, inputs and options with errors that say what was wrong', () => {
  const lookup = new HpsLookupLayer({ ps, model: 'm', table: 'a' });
  throwsHps(() => lookup.apply(tf.tensor1d([1, 2.5])), 'BAD_KEY', /ids\[1\]: 2\.5/);
  throwsHps(() => lookup.apply(tf.tensor1d([2 ** 25])), 'BAD_KEY', /2\^24/);
  throwsHps(() => new HpsLookupLayer({ ps, model: 'm', table: 'zz' }), 'UNKNOWN_TABLE', /zz/);
  throwsHps(() => new HpsLookupLayer({ ps, model: 'nope', table: 0 }), 'UNKNOWN_MODEL', /nope/);
  throwsHps(() => new HpsLookupLayer({ ps, model: 'm', table: 'a', dim: 9 }), 'BAD_CONFIG', /dim: expected 9.*dim 8/);
  assert.is(new HpsSparseLookupLayer({ ps, model: 'm', table: 'b', dim: dims.b }).dim, dims.b);
  throwsHps(() => new HpsSparseLookupLayer({ ps, model: 'm', table: 'a', combiner: 'max' as never }), 'BAD_ARGUMENT', /combiner/);
  const sparse = new HpsSparseLookupLayer({ ps, model: 'm', table: 'a' });
  throwsHps(() => sparse.apply([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([0, 1], 'int32')]), 'BAD_OFFSETS', /offsets/);
  throwsHps(() => sparse.apply([tf.tensor2d([[1, 2]], [1, 2], 'int32'), tf.tensor2d([[1]], [1, 1])]), 'BAD_KEY', /same shape/);
});

test.run();
