// The ranking example's parts: the ONNX model built with protobufjs, run by onnxruntime-node over
// embeddings the parameter server wrote straight into the input tensors, equals the plain-JS reference
// of the same network on random batches; the lookups equal the rows gathered from the HugeCTR files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ParameterServer } from '../engine/index.js';
import { SampleGenerator, type DatasetOptions } from '../examples/ranking/dataset.js';
import { prepareModelFolder, readTableRows } from '../examples/ranking/model-files.js';
import { loadWeights } from '../examples/ranking/network.js';
import { decodeModel } from '../examples/ranking/onnx-proto.js';
import { RankingStep, openSession } from '../examples/ranking/ranking-step.js';
import { referenceEmbeddings, referenceScores } from '../examples/ranking/reference.js';
import { tempDir } from './helpers/lmdb-random.js';

const dir = tempDir('ranking-model');
test.after(() => dir.remove());
const options: DatasetOptions = { maxVocabExponent: 3.5, maxMultiHot: 4, seed: 99 };

test('the model file is ONNX: opset 13, typed inputs, weights as external data in weights.bin', () => {
  const folder = prepareModelFolder(dir.path, options);
  assert.ok(folder.written);
  const model = decodeModel(readFileSync(folder.onnxModel)) as { ir_version: number; opset_import: { version: number }[]; graph: { input: { name: string }[]; initializer: { name: string; data_location?: number; external_data?: { key: string; value: string }[] }[]; node: { op_type: string }[] } };
  assert.is(model.ir_version, 8);
  assert.is(model.opset_import[0].version, 13);
  assert.equal(model.graph.input.map((i) => i.name), ['dense', 'emb16', 'emb64', 'pooled64']);
  const weights = model.graph.initializer.filter((t) => t.name.endsWith('.weight') || t.name.endsWith('.bias'));
  assert.is(weights.length, 10);
  for (const w of weights) assert.equal(w.external_data?.find((e) => e.key === 'location')?.value, 'weights.bin', w.name);
  for (const op of ['Gemm', 'Relu', 'MatMul', 'Gather', 'Sigmoid']) assert.ok(model.graph.node.some((n) => n.op_type === op), op);
  assert.is(prepareModelFolder(dir.path, options).written, false, 'a second call reuses the folder');
});

test('onnxruntime-node over lookups into the input tensors equals the plain-JS reference on random batches', async () => {
  const folder = prepareModelFolder(dir.path, options);
  const { layout } = folder;
  const ps = await ParameterServer.open(folder.psJson, { progress: false, log: () => {} });
  const session = await openSession(folder.onnxModel);
  try {
    const rows = { cat16: readTableRows(dir.path, 'cat16'), cat64: readTableRows(dir.path, 'cat64') };
    const weights = loadWeights(dir.path);
    const step = new RankingStep(ps, session, layout, 300);
    assert.ok(step.zeroCopy(), 'each input tensor holds the very Float32Array the lookups write into');
    const generator = new SampleGenerator(layout, options, 5);
    let spread = 0;
    // The same tensors serve every batch: each run must see the memory the latest lookups wrote.
    for (let b = 0; b < 4; b++) {
      const batch = generator.next(300);
      const { scores } = await step.run(batch);
      const expectedInputs = referenceEmbeddings(layout, rows, batch);
      assert.equal(step.emb16, expectedInputs.emb16, `batch ${b}: emb16 rows`);
      assert.equal(step.emb64, expectedInputs.emb64, `batch ${b}: emb64 rows`);
      for (let i = 0; i < step.pooled64.length; i++) {
        if (Math.abs(step.pooled64[i] - expectedInputs.pooled64[i]) > 1e-6) assert.unreachable(`batch ${b}: pooled64[${i}] ${step.pooled64[i]} != ${expectedInputs.pooled64[i]}`);
      }
      const expected = referenceScores(layout, weights, batch.dense, expectedInputs, batch.size);
      for (let s = 0; s < batch.size; s++) {
        if (!(Math.abs(scores[s] - expected[s]) <= 1e-5)) assert.unreachable(`batch ${b} sample ${s}: ONNX ${scores[s]} vs reference ${expected[s]}`);
      }
      spread = Math.max(spread, Math.max(...scores) - Math.min(...scores));
    }
    assert.ok(spread > 0.05, `scores spread over samples (${spread}), not a constant`);
  } finally {
    await session.release();
    await ps.close();
  }
});

test.run();
