import { HpsError } from '../engine/errors.js';
import type { ModelConfig } from '../engine/config/types.js';
import type { LookupSpec, ParameterServer } from '../engine/parameter-server.js';
import { badRequest } from './errors.js';
import { elementCount, int32Elements, int64Elements, type InputTensor } from './tensors.js';

/**
 * The HPS Triton backend's model interface (hugectr_backend's HPS deployment sample), for one ps.json
 * model: input KEYS (INT64, [1, n] or [n]) holds the keys of every table concatenated in table order;
 * input NUMKEYS (INT32, [1, T] or [T]) the number of keys of each table; output OUTPUT0 (FP32,
 * [1, sum of n_t x dim_t]) their vectors concatenated in the same order.
 */
export const KEYS = 'KEYS';
export const NUMKEYS = 'NUMKEYS';
export const OUTPUT0 = 'OUTPUT0';
export const MODEL_VERSION = '1';
export const PLATFORM = 'hps';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** A decoded request: the keys, the keys per table, and the size of OUTPUT0. */
export interface InferPlan {
  keys: BigInt64Array;
  numKeys: Int32Array;
  /** Floats of OUTPUT0: sum over tables of numKeys[t] x dim[t]. */
  outputLength: number;
}

export class HpsModel {
  readonly name: string;
  private readonly dims: number[];
  private readonly tableNames: string[];
  /** Keys one request may hold per table: max_batch_size x maxnum_catfeature_query_per_table_per_sample[t]. */
  private readonly limits: { maxBatch: number; maxQuery: number }[];

  constructor(config: ModelConfig) {
    this.name = config.name;
    this.dims = config.tables.map((t) => t.dim);
    this.tableNames = config.tables.map((t) => t.name);
    this.limits = config.tables.map((t) => ({ maxBatch: config.maxBatchSize, maxQuery: t.maxQueryPerSample }));
  }

  /** Index and dim of a table by name or index; 404 naming the tables when there is none. */
  table(table: string): { index: number; name: string; dim: number } {
    const index = /^\d+$/.test(table) ? Number(table) : this.tableNames.indexOf(table);
    if (index < 0 || index >= this.dims.length) {
      throw new HpsError('UNKNOWN_TABLE', `model ${this.name} has no table ${JSON.stringify(table)}; tables (index: name): ${this.tableNames.map((n, i) => `${i}: ${n}`).join(', ')}`);
    }
    return { index, name: this.tableNames[index], dim: this.dims[index] };
  }

  metadata(): ModelMetadata {
    return {
      name: this.name,
      versions: [MODEL_VERSION],
      platform: PLATFORM,
      inputs: [{ name: KEYS, datatype: 'INT64', shape: [-1, -1] }, { name: NUMKEYS, datatype: 'INT32', shape: [-1, -1] }],
      outputs: [{ name: OUTPUT0, datatype: 'FP32', shape: [-1, -1] }],
    };
  }

  /** Checks and decodes the inputs; every problem is a 400 naming the input and what was expected. */
  plan(inputs: readonly InputTensor[]): InferPlan {
    const keysIn = this.input(inputs, KEYS, 'INT64');
    const numKeysIn = this.input(inputs, NUMKEYS, 'INT32');
    for (const t of inputs) {
      if (t.name !== KEYS && t.name !== NUMKEYS) throw badRequest(`unknown input ${t.name}: model ${this.name} takes ${KEYS} (INT64) and ${NUMKEYS} (INT32)`);
    }
    const n = this.rowLength(keysIn);
    const keys = int64Elements(keysIn, n);
    const tables = this.rowLength(numKeysIn);
    if (tables !== this.dims.length) {
      throw badRequest(`input ${NUMKEYS}: ${tables} counts, but model ${this.name} has ${this.dims.length} table${this.dims.length === 1 ? '' : 's'} (${this.tableNames.join(', ')})${tables > this.dims.length ? ': too many tables' : ''}; expected one count per table, in table order`);
    }
    const numKeys = int32Elements(numKeysIn, tables);
    let sum = 0;
    let outputLength = 0;
    for (let t = 0; t < tables; t++) {
      const count = numKeys[t];
      if (count < 0) throw badRequest(`input ${NUMKEYS}: element ${t} (table ${this.tableNames[t]}) is ${count}: expected a count >= 0`);
      const { maxBatch, maxQuery } = this.limits[t];
      if (count > maxBatch * maxQuery) {
        throw badRequest(`input ${NUMKEYS}: table ${this.tableNames[t]} has ${count} keys, more than one request may hold: max_batch_size (${maxBatch}) x maxnum_catfeature_query_per_table_per_sample[${t}] (${maxQuery}) = ${maxBatch * maxQuery}`);
      }
      sum += count;
      outputLength += count * this.dims[t];
    }
    if (sum !== n) throw badRequest(`input ${NUMKEYS} sums to ${sum}, but input ${KEYS} holds ${n} keys: expected the counts to add up to the number of keys`);
    return { keys, numKeys, outputLength };
  }

  /** Looks up every table's keys of `plan` into `out` (plan.outputLength floats), tables concurrently. */
  async lookup(ps: ParameterServer, plan: InferPlan, out: Float32Array): Promise<void> {
    const specs: LookupSpec[] = [];
    let key = 0;
    let at = 0;
    for (let t = 0; t < plan.numKeys.length; t++) {
      const count = plan.numKeys[t];
      const size = count * this.dims[t];
      if (count > 0) specs.push({ table: t, keys: plan.keys.subarray(key, key + count), out: out.subarray(at, at + size) });
      key += count;
      at += size;
    }
    await ps.lookupMany(this.name, specs);
  }

  private input(inputs: readonly InputTensor[], name: string, datatype: string): InputTensor {
    const found = inputs.filter((t) => t.name === name);
    if (found.length === 0) throw badRequest(`missing input ${name}: model ${this.name} takes ${KEYS} (INT64) and ${NUMKEYS} (INT32)`);
    if (found.length > 1) throw badRequest(`input ${name} is given ${found.length} times`);
    const t = found[0];
    if (t.datatype !== datatype) throw badRequest(`input ${name}: datatype ${t.datatype}, expected ${datatype}`);
    return t;
  }

  /** Elements of a [n] or [1, n] input. */
  private rowLength(t: InputTensor): number {
    const n = elementCount(t);
    if (!(t.shape.length === 1 || (t.shape.length === 2 && t.shape[0] === 1))) {
      throw badRequest(`input ${t.name}: shape [${t.shape.join(', ')}], expected [n] or [1, n]`);
    }
    return n;
  }
}
