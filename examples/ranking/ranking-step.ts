/**
 * One ranking step in one Node process: the batch's embeddings from the parameter server, written
 * straight into the memory of the ONNX model's input tensors (no copy between the store and the model),
 * then the dense network in onnxruntime-node.
 *
 * The input tensors are made once, over Float32Arrays that every step's lookups overwrite: ort.Tensor
 * keeps the typed array it is given (tensor.data is that array), and onnxruntime-node hands its memory
 * to ONNX Runtime as it is. `zeroCopy()` checks both links of that chain.
 */
import * as ort from 'onnxruntime-node';
import type { ParameterServer } from '../../engine/index.js';
import { DENSE_FEATURES, type Batch, type Layout } from './dataset.js';
import { OUTPUT_NAME } from './dlrm-onnx.js';
import { MODEL_NAME } from './model-files.js';

export interface StepResult {
  /** One score per sample (a view of ONNX Runtime's output). */
  scores: Float32Array;
  lookupMs: number;
  modelMs: number;
}

export class RankingStep {
  /** The lookups' outputs, which are the input tensors' memory. */
  readonly emb16: Float32Array;
  readonly emb64: Float32Array;
  readonly pooled64: Float32Array;
  private readonly tensors: { emb16: ort.Tensor; emb64: ort.Tensor; pooled64: ort.Tensor };

  constructor(private readonly ps: ParameterServer, private readonly session: ort.InferenceSession, layout: Layout, readonly batchSize: number) {
    const { cat16, cat64 } = layout.tables;
    const tensor = (features: number, dim: number) => {
      const data = new Float32Array(batchSize * features * dim);
      return { data, tensor: new ort.Tensor('float32', data, [batchSize, features, dim]) };
    };
    const e16 = tensor(layout.oneHot16.length, cat16.dim);
    const e64 = tensor(layout.oneHot64.length, cat64.dim);
    const p64 = tensor(layout.multiHot64.length, cat64.dim);
    this.emb16 = e16.data;
    this.emb64 = e64.data;
    this.pooled64 = p64.data;
    this.tensors = { emb16: e16.tensor, emb64: e64.tensor, pooled64: p64.tensor };
  }

  /** Whether each input tensor's data is the very buffer the lookups write into. */
  zeroCopy(): boolean {
    return this.tensors.emb16.data === this.emb16 && this.tensors.emb64.data === this.emb64 && this.tensors.pooled64.data === this.pooled64;
  }

  /** The embedding lookups of one batch: one lookupMany for the one-hot features of both tables, one pooled lookup. */
  async lookup(batch: Batch): Promise<void> {
    this.check(batch);
    const [many] = await Promise.all([
      this.ps.lookupMany(MODEL_NAME, [
        { table: 'cat16', keys: batch.keys16, out: this.emb16 },
        { table: 'cat64', keys: batch.keys64, out: this.emb64 },
      ]),
      this.ps.lookupPooled(MODEL_NAME, 'cat64', batch.multiKeys, batch.multiOffsets, { combiner: 'mean', out: this.pooled64 }),
    ]);
    if (many[0] !== this.emb16 || many[1] !== this.emb64) throw new Error('lookupMany did not write into the input tensors');
  }

  /** The dense network over the batch, with the embeddings of the last lookup. */
  async model(batch: Batch): Promise<Float32Array> {
    this.check(batch);
    const dense = new ort.Tensor('float32', batch.dense, [batch.size, DENSE_FEATURES]);
    const out = await this.session.run({ dense, ...this.tensors });
    return out[OUTPUT_NAME].data as Float32Array;
  }

  async run(batch: Batch): Promise<StepResult> {
    const t0 = performance.now();
    await this.lookup(batch);
    const t1 = performance.now();
    const scores = await this.model(batch);
    return { scores, lookupMs: t1 - t0, modelMs: performance.now() - t1 };
  }

  private check(batch: Batch): void {
    if (batch.size !== this.batchSize) throw new Error(`RankingStep: batches of ${this.batchSize} samples, got ${batch.size}`);
  }
}

/** Opens the model file with ONNX Runtime's CPU provider (weights.bin is read from beside it). */
export function openSession(onnxModel: string, threads?: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(onnxModel, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
  });
}
