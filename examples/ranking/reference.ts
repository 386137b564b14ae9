/**
 * The ranking model computed in plain JavaScript, in float64, independently of the parameter server and
 * of ONNX Runtime: embeddings gathered from the tables' rows by key (mean-pooled for the multi-hot
 * features), then the same network as dlrm-onnx.ts. The example and the tests compare ONNX Runtime's
 * scores with these.
 */
import { DENSE_FEATURES, type Batch, type Layout } from './dataset.js';
import { INTERACTION_DIM, interactionVectors, pairIndices, type Dense, type Weights } from './network.js';

/** The model's embedding inputs of a batch, as the parameter server should produce them. */
export interface EmbeddingInputs {
  emb16: Float32Array;
  emb64: Float32Array;
  pooled64: Float32Array;
}

/** Gathers the batch's rows from the tables' rows (row index = key), mean-pooling multi-hot features. */
export function referenceEmbeddings(l: Layout, rows: { cat16: Float32Array; cat64: Float32Array }, batch: Batch): EmbeddingInputs {
  const gather = (table: Float32Array, dim: number, keys: BigInt64Array) => {
    const out = new Float32Array(keys.length * dim);
    for (let i = 0; i < keys.length; i++) out.set(table.subarray(Number(keys[i]) * dim, (Number(keys[i]) + 1) * dim), i * dim);
    return out;
  };
  const dim64 = l.tables.cat64.dim;
  const pooled64 = new Float32Array((batch.multiOffsets.length - 1) * dim64);
  for (let r = 0; r + 1 < batch.multiOffsets.length; r++) {
    const from = batch.multiOffsets[r];
    const to = batch.multiOffsets[r + 1];
    for (let d = 0; d < dim64; d++) {
      let sum = 0;
      for (let k = from; k < to; k++) sum += rows.cat64[Number(batch.multiKeys[k]) * dim64 + d];
      pooled64[r * dim64 + d] = to > from ? sum / (to - from) : 0;
    }
  }
  return {
    emb16: gather(rows.cat16, l.tables.cat16.dim, batch.keys16),
    emb64: gather(rows.cat64, dim64, batch.keys64),
    pooled64,
  };
}

/** x (width d.inputs) -> relu?(x @ weight + bias). */
function dense(d: Dense, x: Float64Array, relu: boolean): Float64Array {
  const y = new Float64Array(d.units);
  for (let o = 0; o < d.units; o++) y[o] = d.bias[o];
  for (let i = 0; i < d.inputs; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * d.units;
    for (let o = 0; o < d.units; o++) y[o] += xi * d.weight[row + o];
  }
  if (relu) for (let o = 0; o < d.units; o++) if (y[o] < 0) y[o] = 0;
  return y;
}

/** One score per sample, sigmoid(top MLP(...)), in float64. */
export function referenceScores(l: Layout, w: Weights, denseFeatures: Float32Array, e: EmbeddingInputs, size: number): Float64Array {
  const n = interactionVectors(l);
  const pairs = pairIndices(n);
  const f16 = l.oneHot16.length;
  const d16 = l.tables.cat16.dim;
  const wide = [
    { data: e.emb64, width: l.oneHot64.length * l.tables.cat64.dim },
    { data: e.pooled64, width: l.multiHot64.length * l.tables.cat64.dim },
  ];
  const scores = new Float64Array(size);
  const vectors = new Float64Array(n * INTERACTION_DIM);
  const top = new Float64Array(w.top[0].inputs);
  for (let b = 0; b < size; b++) {
    let x: Float64Array = Float64Array.from(denseFeatures.subarray(b * DENSE_FEATURES, (b + 1) * DENSE_FEATURES));
    for (const d of w.bottom) x = dense(d, x, true);
    vectors.set(x, 0);
    for (let i = 0; i < f16 * d16; i++) vectors[INTERACTION_DIM + i] = e.emb16[b * f16 * d16 + i];
    let at = 0;
    top.set(x, at);
    at += x.length;
    for (const p of pairs) {
      const i = Math.floor(p / n);
      const j = p % n;
      let dot = 0;
      for (let k = 0; k < INTERACTION_DIM; k++) dot += vectors[i * INTERACTION_DIM + k] * vectors[j * INTERACTION_DIM + k];
      top[at++] = dot;
    }
    for (const { data, width } of wide) {
      for (let i = 0; i < width; i++) top[at++] = data[b * width + i];
    }
    let y: Float64Array = top;
    w.top.forEach((d, i) => {
      y = dense(d, y, i < w.top.length - 1);
    });
    scores[b] = 1 / (1 + Math.exp(-y[0]));
  }
  return scores;
}
