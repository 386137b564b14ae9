import { distinctKeys, randomRows, uniformRows, ZipfSampler } from './random.js';

/** The table of the host, limit, peers and latency workloads, and its two query streams. */
export interface HostTableSizes {
  keys: number;
  dim: number;
  batch: number;
  /** Batches per query stream; a benchmark cycles through them. */
  batches: number;
}

export type StreamName = 'zipf' | 'uniform';
export const STREAMS: StreamName[] = ['zipf', 'uniform'];
export const ZIPF_EXPONENT = 1.05;
const SEED = 20261127;

export interface QueryStream {
  name: StreamName;
  /** Row index of every query (batches x batch), in a SharedArrayBuffer so workers can read it. */
  rows: Int32Array;
  /** The key of every query, same layout. */
  keys: BigInt64Array;
}

export interface HostTable extends HostTableSizes {
  keyList: BigInt64Array;
  /** Row i is the vector of keyList[i]: keys x dim float32, random and never zero. */
  rows: Float32Array;
  streams: Record<StreamName, QueryStream>;
}

/** Builds the table and both query streams from fixed seeds (same data in every run). */
export function buildHostTable(sizes: HostTableSizes): HostTable {
  const keyList = distinctKeys(sizes.keys, SEED);
  const rows = randomRows(sizes.keys * sizes.dim, SEED + 1);
  const queries = sizes.batch * sizes.batches;
  const make = (name: StreamName, picked: Int32Array): QueryStream => {
    const rowsShared = new Int32Array(new SharedArrayBuffer(queries * 4));
    rowsShared.set(picked);
    const keys = new BigInt64Array(new SharedArrayBuffer(queries * 8));
    for (let i = 0; i < queries; i++) keys[i] = keyList[picked[i]];
    return { name, rows: rowsShared, keys };
  };
  return {
    ...sizes, keyList, rows,
    streams: {
      zipf: make('zipf', new ZipfSampler(sizes.keys, ZIPF_EXPONENT, SEED + 2).rows(queries)),
      uniform: make('uniform', uniformRows(sizes.keys, queries, SEED + 3)),
    },
  };
}

/** Keys of batch `b` of a stream (a view, no copy). */
export function batchKeys(table: HostTable, stream: StreamName, b: number): BigInt64Array {
  const start = (b % table.batches) * table.batch;
  return table.streams[stream].keys.subarray(start, start + table.batch);
}

/** Distinct keys touched by a stream, as a fraction of the table (reported beside the figures). */
export function distinctFraction(table: HostTable, stream: StreamName): number {
  const seen = new Uint8Array(table.keys);
  let count = 0;
  for (const r of table.streams[stream].rows) if (!seen[r]) { seen[r] = 1; count++; }
  return count / table.keys;
}

/**
 * The rows the batch must return, checked against what a lookup wrote into `out` at a few positions
 * (a benchmark that returns wrong rows measures nothing). Returns a description of the first mismatch.
 */
export function checkBatch(table: HostTable, stream: StreamName, b: number, out: Float32Array): string | null {
  const start = (b % table.batches) * table.batch;
  const rows = table.streams[stream].rows;
  const dim = table.dim;
  for (let i = 0; i < table.batch; i += Math.max(1, table.batch >> 6)) {
    const r = rows[start + i];
    for (let d = 0; d < dim; d++) {
      if (out[i * dim + d] !== table.rows[r * dim + d]) return `batch ${b} position ${i} (row ${r}) element ${d}`;
    }
  }
  return null;
}
