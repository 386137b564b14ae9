import { HpsError } from '../errors.js';
import { isObject } from './checks.js';
import { MAX_DIM } from './limits.js';
import type { Problem } from './problems.js';
import { readJsonFileSync } from './read-file.js';

/**
 * The embedding tables of a HugeCTR network graph (the `network_file` of a model), for ps.json files of
 * HugeCTR 3.0/3.1 (e.g. the Triton backend's samples/ps.json), which gave no `embedding_vecsize_per_table`
 * and let HPS read the tables from the graph, as `parameter_server_config` did: the leading layers
 * up to the first other one are the `Data` layer (one sparse input per table: most keys per sample) and
 * the embedding layers (name = `top`, dimension and default value from `sparse_embedding_hparam`).
 */
export interface NetworkTables {
  names: string[];
  dims: number[];
  defaults: number[];
  maxQuery: number[];
}

const EMBEDDING_LAYERS = ['DistributedSlotSparseEmbeddingHash', 'LocalizedSlotSparseEmbeddingHash', 'LocalizedSlotSparseEmbeddingOneHot'];

/** Reads `file`; problems are reported under `at` (`models[i].network_file`) and give null. */
export function tablesFromNetworkFile(file: string, at: string, problems: Problem[]): NetworkTables | null {
  let graph: unknown;
  try {
    graph = readJsonFileSync(file, 'network file');
  } catch (err) {
    if (!(err instanceof HpsError)) throw err;
    problems.push({ path: at, message: `${err.message} (needed for the tables: the model has no embedding_vecsize_per_table)` });
    return null;
  }
  const fail = (where: string, expected: string) => {
    problems.push({ path: at, message: `${file}: ${where}: expected ${expected}` });
    return null;
  };
  const layers = isObject(graph) ? graph.layers : undefined;
  if (!Array.isArray(layers)) return fail('layers', 'an array of layers');
  const out: NetworkTables = { names: [], dims: [], defaults: [], maxQuery: [] };
  for (let i = 0; i < layers.length; i++) {
    const layer: unknown = layers[i];
    const type = isObject(layer) ? layer.type : undefined;
    if (!isObject(layer) || (type !== 'Data' && !EMBEDDING_LAYERS.includes(type as string))) break;
    if (type === 'Data') {
      if (!Array.isArray(layer.sparse)) return fail(`layers[${i}].sparse`, 'an array of sparse inputs');
      for (let k = 0; k < layer.sparse.length; k++) {
        const n = maxFeatures(layer.sparse[k]);
        if (n === null) return fail(`layers[${i}].sparse[${k}]`, 'max_feature_num_per_sample, or slot_num with nnz_per_slot (positive integers)');
        out.maxQuery.push(n);
      }
      continue;
    }
    const hp = layer.sparse_embedding_hparam;
    const dim = isObject(hp) ? hp.embedding_vec_size : undefined;
    const dflt = isObject(hp) ? hp.default_emb_vec_value ?? 0 : 0;
    if (typeof layer.top !== 'string' || layer.top === '') return fail(`layers[${i}].top`, 'the table name (a non-empty string)');
    if (!Number.isInteger(dim) || (dim as number) < 1 || (dim as number) > MAX_DIM) {
      return fail(`layers[${i}].sparse_embedding_hparam.embedding_vec_size`, `an integer in [1, ${MAX_DIM}]`);
    }
    if (typeof dflt !== 'number') return fail(`layers[${i}].sparse_embedding_hparam.default_emb_vec_value`, 'a number');
    out.names.push(layer.top);
    out.dims.push(dim as number);
    out.defaults.push(dflt);
  }
  if (out.names.length === 0) return fail('layers', `embedding layers (${EMBEDDING_LAYERS.join(', ')}) after the Data layer`);
  if (out.maxQuery.length !== out.names.length) {
    return fail('layers', `one Data sparse input per embedding layer, found ${out.maxQuery.length} inputs and ${out.names.length} embedding layers`);
  }
  return out;
}

/** HugeCTR's get_max_feature_num_per_sample_from_nnz_per_slot, or the older max_feature_num_per_sample. */
function maxFeatures(input: unknown): number | null {
  if (!isObject(input)) return null;
  const pos = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
  if (pos(input.max_feature_num_per_sample)) return input.max_feature_num_per_sample;
  const slots = input.slot_num, nnz = input.nnz_per_slot;
  if (!pos(slots)) return null;
  if (pos(nnz)) return nnz * slots;
  if (Array.isArray(nnz) && nnz.length === slots && nnz.every(pos)) return nnz.reduce((a: number, b: number) => a + b, 0);
  return null;
}
