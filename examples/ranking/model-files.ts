/**
 * Writes everything the ranking example serves, into one folder, the way an HPS deployment lays it out:
 *
 *   <dir>/sparse/cat16/{key,emb_vector}   HugeCTR sparse model files (int64 keys, float32 rows)
 *   <dir>/sparse/cat64/{key,emb_vector}
 *   <dir>/ps.json                         HPS parameter-server config naming them (store in <dir>/store)
 *   <dir>/dlrm.onnx                       the dense network, weights as external data in:
 *   <dir>/weights.bin, weights.json
 *   <dir>/dataset.json                    the options the folder was made with
 *
 * A folder made with the same options is reused as it is (ParameterServer.open then reuses its import).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layout, tableRows, type DatasetOptions, type Layout, type TableSpec } from './dataset.js';
import { writeOnnxModel, MODEL_FILE } from './dlrm-onnx.js';
import { randomWeights, saveWeights } from './network.js';

export const MODEL_NAME = 'dlrm';
const FORMAT = 1;

export interface ModelFolder {
  dir: string;
  layout: Layout;
  psJson: string;
  onnxModel: string;
  /** Whether this call wrote the files (false: an earlier run's were reused). */
  written: boolean;
}

export function sparseFolder(dir: string, table: string): string {
  return join(dir, 'sparse', table);
}

/** Makes (or reuses) the example's model folder for `options`. `log` reports each step. */
export function prepareModelFolder(dir: string, options: DatasetOptions, log: (line: string) => void = () => {}): ModelFolder {
  const l = layout(options);
  const stamp = JSON.stringify({ format: FORMAT, ...options });
  const stampFile = join(dir, 'dataset.json');
  const result = { dir, layout: l, psJson: join(dir, 'ps.json'), onnxModel: join(dir, MODEL_FILE) };
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(result.onnxModel)) return { ...result, written: false };

  mkdirSync(dir, { recursive: true });
  for (const spec of [l.tables.cat16, l.tables.cat64]) {
    const t0 = Date.now();
    writeHugeCtrTable(sparseFolder(dir, spec.name), spec, tableRows(spec, options.seed));
    log(`wrote HugeCTR table ${spec.name}: ${spec.rows.toLocaleString('en-US')} keys x dim ${spec.dim} (${((spec.rows * (8 + spec.dim * 4)) / 2 ** 20).toFixed(0)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  writeFileSync(result.psJson, JSON.stringify(psJson(l, options.maxMultiHot), null, 2) + '\n');
  const manifest = saveWeights(dir, randomWeights(l, options.seed + 1));
  writeOnnxModel(dir, l, manifest);
  log(`wrote ${result.psJson}, ${result.onnxModel} and its weights`);
  writeFileSync(stampFile, stamp);
  return { ...result, written: true };
}

/** HugeCTR's sparse model format: `key` (int64 little-endian) and `emb_vector` (float32 rows), keys 0..rows-1. */
function writeHugeCtrTable(folder: string, spec: TableSpec, rows: Float32Array): void {
  mkdirSync(folder, { recursive: true });
  const keys = new BigInt64Array(spec.rows);
  for (let i = 0; i < spec.rows; i++) keys[i] = BigInt(i);
  writeFileSync(join(folder, 'key'), new Uint8Array(keys.buffer));
  writeFileSync(join(folder, 'emb_vector'), new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
}

/** The rows of a table as written in its HugeCTR folder (row i is key i). */
export function readTableRows(dir: string, table: string): Float32Array {
  const bytes = readFileSync(join(sparseFolder(dir, table), 'emb_vector'));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** An HPS ps.json for the two tables, with HPS's key names; paths relative to the ps.json's folder. */
function psJson(l: Layout, maxMultiHot: number): object {
  const { cat16, cat64 } = l.tables;
  return {
    supportlonglong: true,
    models: [{
      model: MODEL_NAME,
      sparse_files: ['sparse/cat16', 'sparse/cat64'],
      embedding_table_names: [cat16.name, cat64.name],
      embedding_vecsize_per_table: [cat16.dim, cat64.dim],
      default_value_for_each_table: [0, 0],
      maxnum_catfeature_query_per_table_per_sample: [l.oneHot16.length, l.oneHot64.length + l.multiHot64.length * maxMultiHot],
      deployed_device_list: [0],
      max_batch_size: 16384,
      hit_rate_threshold: 0.9,
      gpucache: true,
      gpucacheper: 0.2,
    }],
    volatile_db: { type: 'parallel_hash_map', initial_cache_rate: 1.0 },
    persistent_db: { type: 'rocks_db', path: 'store' },
  };
}
