// The ranking example: a DLRM-style model served end to end in one Node process. It writes a synthetic
// Criteo-shaped model (HugeCTR sparse files, an HPS ps.json, the dense network as an ONNX file), opens
// the tables with ParameterServer.open, runs batches (embeddings from the parameter server straight
// into the ONNX input tensors, then onnxruntime-node), checks every score against a plain-JS reference
// of the same network, and prints samples/s and the time split between lookup and model.
//
//   npm run example:ranking [-- --quick] [--dir <folder>] [--batches N] [--batch-size N]
import { Command } from 'commander';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterServer } from '../../engine/index.js';
import { FULL_DATASET, QUICK_DATASET, SampleGenerator } from './dataset.js';
import { prepareModelFolder, readTableRows } from './model-files.js';
import { loadWeights } from './network.js';
import { RankingStep, openSession } from './ranking-step.js';
import { referenceEmbeddings, referenceScores } from './reference.js';

const TOLERANCE = 1e-5;

const opts = new Command('example:ranking')
  .description('DLRM-style ranking with embeddings from hps-node and the dense network in onnxruntime-node')
  .option('--quick', 'small scale (vocabularies up to 10^4, 4 batches of 256), as CI runs it')
  .option('--dir <folder>', 'model folder (made on first run, reused after)')
  .option('--batches <n>', 'batches to run', (v) => Number.parseInt(v, 10))
  .option('--batch-size <n>', 'samples per batch', (v) => Number.parseInt(v, 10))
  .parse()
  .opts<{ quick?: boolean; dir?: string; batches?: number; batchSize?: number }>();

const dataset = opts.quick ? QUICK_DATASET : FULL_DATASET;
const batches = opts.batches ?? (opts.quick ? 4 : 20);
const batchSize = opts.batchSize ?? (opts.quick ? 256 : 2048);
const dir = opts.dir ?? join(tmpdir(), `hps-ranking-example-${opts.quick ? 'quick' : 'full'}`);
const log = (line: string) => console.log(line);

log(`model folder: ${dir}`);
const folder = prepareModelFolder(dir, dataset, log);
if (!folder.written) log('reusing the files of an earlier run');
const { layout } = folder;
log(`tables: cat16 ${layout.tables.cat16.rows.toLocaleString('en-US')} keys x 16, cat64 ${layout.tables.cat64.rows.toLocaleString('en-US')} keys x 64; ` +
  `features: 13 dense, ${layout.oneHot16.length} one-hot in cat16, ${layout.oneHot64.length} one-hot + ${layout.multiHot64.length} multi-hot (mean-pooled) in cat64`);

const t0 = Date.now();
const ps = await ParameterServer.open(folder.psJson, { log: () => {} });
for (const r of ps.info().importsAtOpen) log(`imported ${r.table}: ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(1)} s`);
log(`ParameterServer.open(${folder.psJson}): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const session = await openSession(folder.onnxModel);
const step = new RankingStep(ps, session, layout, batchSize);
log(`zero-copy: each ONNX input tensor's data is the Float32Array the lookups write into: ${step.zeroCopy()}`);

try {
  const generator = new SampleGenerator(layout, dataset);
  const work = Array.from({ length: batches }, () => generator.next(batchSize));
  await step.run(work[0]); // warm-up: first-run allocations in ONNX Runtime and the store
  const scores: Float32Array[] = [];
  let lookupMs = 0;
  let modelMs = 0;
  const start = performance.now();
  for (const batch of work) {
    const r = await step.run(batch);
    scores.push(r.scores.slice());
    lookupMs += r.lookupMs;
    modelMs += r.modelMs;
  }
  const totalMs = performance.now() - start;
  const samples = batches * batchSize;
  log(`ran ${batches} batches of ${batchSize}: ${Math.round(samples / (totalMs / 1000)).toLocaleString('en-US')} samples/s; ` +
    `per batch ${(totalMs / batches).toFixed(2)} ms: lookup ${(lookupMs / batches).toFixed(2)} ms (${((100 * lookupMs) / totalMs).toFixed(0)}%), ` +
    `model ${(modelMs / batches).toFixed(2)} ms (${((100 * modelMs) / totalMs).toFixed(0)}%), the rest between steps (copying the scores out, scheduling)`);

  const rows = { cat16: readTableRows(dir, 'cat16'), cat64: readTableRows(dir, 'cat64') };
  const weights = loadWeights(dir);
  let worst = 0;
  work.forEach((batch, i) => {
    const expected = referenceScores(layout, weights, batch.dense, referenceEmbeddings(layout, rows, batch), batch.size);
    for (let s = 0; s < batch.size; s++) worst = Math.max(worst, Math.abs(scores[i][s] - expected[s]));
  });
  const ok = worst <= TOLERANCE;
  const mean = scores.reduce((sum, s) => sum + s.reduce((a, v) => a + v, 0), 0) / samples;
  log(`checked ${samples.toLocaleString('en-US')} scores (mean ${mean.toFixed(4)}) against the plain-JS reference: largest difference ${worst.toExponential(2)} ${ok ? '<=' : '>'} ${TOLERANCE}`);
  const stats = ps.stats();
  for (const t of stats) log(`  ${t.table}: ${t.keys.toLocaleString('en-US')} keys looked up, L1 hit rate ${(100 * t.l1.hitRate).toFixed(1)}%, L2 ${(100 * t.l2.hitRate).toFixed(1)}%`);
  if (!ok || !step.zeroCopy()) process.exitCode = 1;
} finally {
  await session.release();
  await ps.close();
}
