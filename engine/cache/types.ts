import type { CachePolicy } from '../config/types.js';

/**
 * The L1 embedding cache interface, implemented by WasmEmbeddingCache (wasm/, any machine) and
 * CudaEmbeddingCache (native/, when a GPU is present). Keys are 64-bit bit patterns in a BigInt64Array
 * (see engine/keys.ts); vectors are float32 rows of `dim`, row i for keys[i]. Methods return promises so
 * that the GPU implementation never blocks the event loop; the WASM one resolves at once.
 */
export interface EmbeddingCache {
  /** 'wasm', 'cuda', or the name of a cache given through OpenOptions.l1Cache. */
  readonly kind: string;
  readonly dim: number;
  /** Rows the cache can hold. */
  readonly capacity: number;
  readonly policy: CachePolicy;

  /**
   * Looks up `keys`, writing row i of `out` (keys.length x dim) for every hit and leaving rows of
   * misses untouched. Resolves to the ascending positions (indices into `keys`) that missed.
   * Counts as an access for LRU/LFU.
   */
  query(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array>;

  /** Inserts or replaces rows, evicting by the policy when full. `vectors` is keys.length x dim. */
  insert(keys: BigInt64Array, vectors: Float32Array): Promise<void>;

  /** Overwrites rows of keys already cached; keys not cached are ignored. Resolves to rows updated. */
  update(keys: BigInt64Array, vectors: Float32Array): Promise<number>;

  /** Removes keys; resolves to the number that were present. */
  erase(keys: BigInt64Array): Promise<number>;

  /** Every key currently cached, in no particular order. */
  dump(): Promise<BigInt64Array>;

  /** Removes every row. */
  clear(): Promise<void>;

  stats(): CacheStats;

  close(): Promise<void>;
}

/**
 * An L1 cache that also reduces pooled lookups itself (the CUDA cache: only rows x dim floats cross
 * the bus). `queryPooled` writes row r of `out` as the combination of the hits among keys
 * offsets[r]..offsets[r+1]-1, scaled by the divisor of every key of the row (sum: 1, mean: sum of
 * weights, sqrtn: sqrt of the sum of squared weights), and resolves to the ascending positions that
 * missed; the caller adds their vectors with the same divisor.
 */
export interface PoolingEmbeddingCache extends EmbeddingCache {
  queryPooled(keys: BigInt64Array, offsets: Uint32Array, weights: Float32Array | null, combiner: 'sum' | 'mean' | 'sqrtn', out: Float32Array): Promise<Uint32Array>;
}

export function poolsItself(cache: EmbeddingCache | null): cache is PoolingEmbeddingCache {
  return typeof (cache as PoolingEmbeddingCache | null)?.queryPooled === 'function';
}

export interface CacheStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
  insertions: number;
  evictions: number;
}

/** What OpenOptions.l1Cache is asked to build: one table's L1 cache. */
export interface L1Spec {
  model: string;
  table: string;
  dim: number;
  /** Rows: `gpucacheper` of the table's rows (at least 64). */
  capacity: number;
  policy: CachePolicy;
}
