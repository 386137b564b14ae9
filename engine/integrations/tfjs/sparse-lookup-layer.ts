import * as tf from '@tensorflow/tfjs';
import { badArgument, HpsError } from '../../errors.js';
import type { ParameterServer } from '../../parameter-server.js';
import type { Combiner } from '../../pipeline/kernels-wasm.js';
import { tableDim, tensorKeys } from './ids.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface HpsSparseLookupLayerArgs extends LayerArgs {
  ps: ParameterServer;
  model: string;
  /** Table name, or index into the model's tables. */
  table: string | number;
  /** The vector dimension the model expects (HPS's `emb_vec_size`): checked against the table's. */
  dim?: number;
  /** How a row's vectors combine: 'mean' (default, as HPS's), 'sum' or 'sqrtn'. */
  combiner?: Combiner;
  /** In the padded form, the id that marks an empty slot. Default -1. */
  paddingId?: number;
}

const COMBINERS: readonly Combiner[] = ['mean', 'sum', 'sqrtn'];

/**
 * HPS's `SparseLookupLayer` for TF.js: a ragged batch of ids in, one combined vector per row out
 * ([rows, dim]). TF.js has no ragged or sparse tensor, so the batch comes in one of two forms:
 *
 * - padded: `ids` [rows, width] (int32, or integer float32), `paddingId` marking empty slots, and
 *   optionally `weights` [rows, width]: inputs `ids` or `[ids, weights]`. Rows line up with the batch,
 *   so the layer works inside `model.predict`;
 * - CSR: `values` [nnz], `rowSplits` [rows + 1] (ascending, from 0 to nnz), optionally `weights` [nnz]:
 *   inputs `[values, rowSplits]` or `[values, rowSplits, weights]` (for `layer.apply` / `model.execute`,
 *   whose inputs need not share a batch dimension).
 *
 * Weighted combiners follow TensorFlow's: sum of w x; mean divides by the sum of weights; sqrtn by
 * sqrt of the sum of squared weights. An empty row is zeros. Synchronous, like HpsLookupLayer.
 */
export class HpsSparseLookupLayer extends tf.layers.Layer {
  static readonly className = 'HpsSparseLookupLayer';
  readonly dim: number;
  readonly combiner: Combiner;
  readonly paddingId: number;
  private readonly ps: ParameterServer;
  private readonly model: string;
  private readonly table: string | number;

  constructor(args: HpsSparseLookupLayerArgs) {
    super({ ...args, trainable: false });
    const combiner = args.combiner ?? 'mean';
    if (!COMBINERS.includes(combiner)) {
      throw badArgument('HpsSparseLookupLayer: combiner', "'mean', 'sum' or 'sqrtn'", combiner);
    }
    const paddingId = args.paddingId ?? -1;
    if (!Number.isSafeInteger(paddingId)) throw new HpsError('BAD_CONFIG', `HpsSparseLookupLayer: paddingId: expected an integer, got ${paddingId}`);
    this.ps = args.ps;
    this.model = args.model;
    this.table = args.table;
    this.combiner = combiner;
    this.paddingId = paddingId;
    this.dim = tableDim(args.ps, args.model, args.table, args.dim);
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tf.Shape[];
    const [ids, second] = shapes;
    if (ids.length === 2) return [ids[0], this.dim];
    const splits = second?.[0];
    return [typeof splits === 'number' ? splits - 1 : null, this.dim];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const { keys, offsets, weights, rows } = list[0].rank === 2 ? this.padded(list) : this.csr(list);
    const out = this.ps.lookupPooledSync(this.model, this.table, keys, offsets, { combiner: this.combiner, weights: weights ?? undefined });
    return tf.tensor2d(out, [rows, this.dim], 'float32');
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), model: this.model, table: this.table, combiner: this.combiner, paddingId: this.paddingId };
  }

  /** [ids [rows, width]] or [ids, weights [rows, width]]: the non-padding slots of each row. */
  private padded(list: tf.Tensor[]) {
    const [idsTensor, weightsTensor] = list;
    const [rows, width] = idsTensor.shape;
    if (list.length > 2 || (weightsTensor && !sameShape(weightsTensor.shape, idsTensor.shape))) {
      throw new HpsError('BAD_KEY', `${this.name}: padded input: expected ids [rows, width] and optionally weights of the same shape, got shapes ${shapes(list)}`);
    }
    const ids = tensorKeys(idsTensor, `${this.name}: ids`);
    const allWeights = weightsTensor ? floats(weightsTensor, `${this.name}: weights`) : null;
    const offsets = new Uint32Array(rows + 1);
    let n = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== this.paddingId) n++;
    const keys = new Int32Array(n);
    const weights = allWeights ? new Float32Array(n) : null;
    n = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = r * width; c < (r + 1) * width; c++) {
        if (ids[c] === this.paddingId) continue;
        if (weights) weights[n] = allWeights![c];
        keys[n++] = ids[c];
      }
      offsets[r + 1] = n;
    }
    return { keys, offsets, weights, rows };
  }

  /** [values [nnz], rowSplits [rows + 1]] or with weights [nnz]. */
  private csr(list: tf.Tensor[]) {
    const [values, splits, weightsTensor] = list;
    if (list.length < 2 || list.length > 3 || values.rank !== 1 || splits.rank !== 1 || (weightsTensor && !sameShape(weightsTensor.shape, values.shape))) {
      throw new HpsError('BAD_KEY', `${this.name}: expected [values [nnz], rowSplits [rows + 1]] or with weights [nnz], or padded ids [rows, width]; got shapes ${shapes(list)}`);
    }
    const offsets = Uint32Array.from(tensorKeys(splits, `${this.name}: rowSplits`), (v) => (v < 0 ? 0xffffffff : v));
    return {
      keys: tensorKeys(values, `${this.name}: values`),
      offsets,
      weights: weightsTensor ? floats(weightsTensor, `${this.name}: weights`) : null,
      rows: offsets.length - 1,
    };
  }
}

function floats(t: tf.Tensor, what: string): Float32Array {
  if (t.dtype !== 'float32') throw new HpsError('BAD_VECTOR', `${what}: expected a float32 tensor, got ${t.dtype}`);
  return t.dataSync() as Float32Array;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function shapes(list: tf.Tensor[]): string {
  return list.map((t) => `[${t.shape.join(', ')}]`).join(', ');
}
