// TF.js layers over the parameter server (hps-node/tfjs), HPS's TensorFlow plugin in TF.js form. A small
// two-tower-ish scorer: 4 one-hot item ids through HpsLookupLayer, a padded history of up to 6 ids
// through HpsSparseLookupLayer (mean), then dense layers. Its predictions are compared with the same
// dense layers applied to embeddings looked up with the promise-returning API, without the layers.
//
//   npm run example:tfjs
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ParameterServer } from '../../engine/index.js';
import { HpsLookupLayer, HpsSparseLookupLayer } from '../../engine/integrations/tfjs/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hps-tfjs-example-'));
const dim = 8;
const rows = 10_000;
const batch = 64;
const history = 6;
try {
  // A HugeCTR sparse model folder: keys 0..rows-1 (int64) and their random float32 vectors.
  mkdirSync(join(dir, 'items'));
  writeFileSync(join(dir, 'items', 'key'), new Uint8Array(BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)).buffer));
  writeFileSync(join(dir, 'items', 'emb_vector'), new Uint8Array(Float32Array.from({ length: rows * dim }, () => Math.random() - 0.5).buffer));
  const ps = await ParameterServer.open({
    baseDir: dir,
    workerThreads: 0,
    models: [{ name: 'scorer', tables: [{ name: 'items', dim, sparseFile: 'items' }] }],
    persistentDb: { path: 'store' },
  }, { log: () => {} });

  // The model: ids [batch, 4] and a padded history [batch, 6] (-1 = no id) in, one score out.
  const ids = tf.input({ shape: [4], dtype: 'int32', name: 'ids' });
  const hist = tf.input({ shape: [history], dtype: 'int32', name: 'history' });
  const itemVectors = new HpsLookupLayer({ ps, model: 'scorer', table: 'items' }).apply(ids) as tf.SymbolicTensor;
  const historyVector = new HpsSparseLookupLayer({ ps, model: 'scorer', table: 'items', combiner: 'mean' }).apply(hist) as tf.SymbolicTensor;
  const flatten = tf.layers.flatten();
  const concat = tf.layers.concatenate();
  const hidden = tf.layers.dense({ units: 16, activation: 'relu' });
  const score = tf.layers.dense({ units: 1, activation: 'sigmoid' });
  const joined = concat.apply([flatten.apply(itemVectors) as tf.SymbolicTensor, historyVector]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [ids, hist], outputs: score.apply(hidden.apply(joined)) as tf.SymbolicTensor });

  const idValues = Int32Array.from({ length: batch * 4 }, () => Math.floor(Math.random() * rows));
  const histValues = Int32Array.from({ length: batch * history }, (_, i) => (i % history < 1 + (Math.floor(i / history) % history) ? Math.floor(Math.random() * rows) : -1));
  const predicted = (model.predict([tf.tensor2d(idValues, [batch, 4], 'int32'), tf.tensor2d(histValues, [batch, history], 'int32')]) as tf.Tensor).dataSync();

  // The same network without the layers: await the lookups first, then the same dense layers.
  const itemRows = await ps.lookup('scorer', 'items', idValues);
  const offsets = [0];
  const histKeys: number[] = [];
  for (let r = 0; r < batch; r++) {
    for (let c = 0; c < history; c++) if (histValues[r * history + c] !== -1) histKeys.push(histValues[r * history + c]);
    offsets.push(histKeys.length);
  }
  const histRows = await ps.lookupPooled('scorer', 'items', histKeys, offsets, { combiner: 'mean' });
  const features = tf.concat([tf.tensor2d(itemRows, [batch, 4 * dim]), tf.tensor2d(histRows, [batch, dim])], 1);
  const expected = (score.apply(hidden.apply(features)) as tf.Tensor).dataSync();

  let worst = 0;
  for (let i = 0; i < batch; i++) worst = Math.max(worst, Math.abs(predicted[i] - expected[i]));
  console.log(`scores of the first samples: ${Array.from(predicted.subarray(0, 4), (v) => v.toFixed(4)).join(' ')}`);
  console.log(`model.predict with the HPS layers vs the same layers over awaited lookups: ${batch} scores, largest difference ${worst.toExponential(2)}`);
  if (worst > 1e-6) process.exitCode = 1;
  await ps.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
