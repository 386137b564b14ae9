import * as tf from '@tensorflow/tfjs';
import type { ParameterServer } from '../../parameter-server.js';
import { tableDim, tensorKeys } from './ids.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface HpsLookupLayerArgs extends LayerArgs {
  ps: ParameterServer;
  model: string;
  /** Table name, or index into the model's tables. */
  table: string | number;
  /** The vector dimension the model expects (HPS's `emb_vec_size`): checked against the table's. */
  dim?: number;
}

/**
 * HPS's `LookupLayer` for TF.js: ids in (any shape, int32 or integer float32), their vectors out (the
 * ids' shape + [dim]). Not trainable: the vectors live in the parameter server. The lookup runs
 * synchronously on the calling thread (ParameterServer.lookupSync: no worker pool, no CUDA L1, no Redis tier), since
 * a TF.js layer's call() cannot await; for large batches look the vectors up first with `lookup`.
 */
export class HpsLookupLayer extends tf.layers.Layer {
  static readonly className = 'HpsLookupLayer';
  readonly dim: number;
  private readonly ps: ParameterServer;
  private readonly model: string;
  private readonly table: string | number;

  constructor(args: HpsLookupLayerArgs) {
    super({ ...args, trainable: false });
    this.ps = args.ps;
    this.model = args.model;
    this.table = args.table;
    this.dim = tableDim(args.ps, args.model, args.table, args.dim);
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...(inputShape as tf.Shape), this.dim];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const ids = Array.isArray(inputs) ? inputs[0] : inputs;
    const vectors = this.ps.lookupSync(this.model, this.table, tensorKeys(ids, `${this.name}: ids`));
    return tf.tensor(vectors, [...ids.shape, this.dim], 'float32');
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), model: this.model, table: this.table };
  }
}
