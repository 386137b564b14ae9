import type * as tf from '@tensorflow/tfjs';
import { HpsError } from '../../errors.js';
import type { ParameterServer } from '../../parameter-server.js';

/** Largest integer a float32 holds exactly: float ids beyond it have already lost their low bits. */
const FLOAT32_EXACT = 2 ** 24;

/**
 * A tensor of ids as keys for the parameter server, read synchronously (dataSync). TF.js has no int64:
 * int32 ids are passed on as they are; float32 ids must be integers of magnitude at most 2^24.
 */
export function tensorKeys(ids: tf.Tensor, what: string): Int32Array {
  if (ids.dtype === 'int32') return ids.dataSync() as Int32Array;
  if (ids.dtype !== 'float32') {
    throw new HpsError('BAD_KEY', `${what}: expected an int32 (or float32 integer) tensor of ids, got a ${ids.dtype} tensor`);
  }
  const values = ids.dataSync() as Float32Array;
  const keys = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || Math.abs(v) > FLOAT32_EXACT) {
      throw new HpsError('BAD_KEY', `${what}[${i}]: ${v} is not a valid id: a float32 id must be an integer of magnitude at most 2^24 (feed int32 ids for larger keys)`);
    }
    keys[i] = v;
  }
  return keys;
}

/**
 * A table's vector dimension, checking that the model and table exist and, when the caller states the
 * dimension it expects (HPS's `emb_vec_size`), that it is the table's.
 */
export function tableDim(ps: ParameterServer, model: string, table: string | number, expected?: number): number {
  const m = ps.info().models.find((x) => x.name === model);
  const t = m?.tables.find((x) => (typeof table === 'number' ? x.index === table : x.name === table));
  if (!m) throw new HpsError('UNKNOWN_MODEL', `model ${JSON.stringify(model)} is not loaded; known models: ${ps.info().models.map((x) => x.name).join(', ')}`);
  if (!t) throw new HpsError('UNKNOWN_TABLE', `model ${model} has no table ${JSON.stringify(table)}; known tables (index: name): ${m.tables.map((x) => `${x.index}: ${x.name}`).join(', ')}`);
  if (expected !== undefined && expected !== t.dim) {
    throw new HpsError('BAD_CONFIG', `dim: expected ${expected}, but model ${model} table ${t.name} has vectors of dim ${t.dim}`);
  }
  return t.dim;
}
