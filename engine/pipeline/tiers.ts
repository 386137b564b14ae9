/**
 * The tiers of one table as the synchronous pipeline sees them, in whichever thread serves a range.
 * Each is a thin view of the real tier (WasmEmbeddingCache, HostArena, LmdbStore) so the pipeline does
 * not depend on how they are built or attached.
 */
export interface ReadTier {
  /** Writes row i of `out` for each found keys[i]; returns the ascending positions not found. */
  lookup(keys: BigInt64Array, out: Float32Array): Uint32Array;
}

export interface WriteTier extends ReadTier {
  /** Inserts or replaces rows (evicting by the tier's policy). */
  insert(keys: BigInt64Array, vectors: Float32Array): void;
  /** Removes keys; returns how many were present. */
  erase(keys: BigInt64Array): number;
}

/**
 * L1 as the pipeline sees it: the WASM cache answers at once (a WriteTier), the CUDA cache or any other
 * EmbeddingCache with promises. The pipeline's rules are the same for both (see steps.ts).
 */
export interface CacheTier {
  lookup(keys: BigInt64Array, out: Float32Array): Uint32Array | Promise<Uint32Array>;
  insert(keys: BigInt64Array, vectors: Float32Array): void | Promise<void>;
  erase(keys: BigInt64Array): number | Promise<number>;
}

export interface TableTiers {
  dim: number;
  defaultValue: number;
  l1: CacheTier | null;
  l2: WriteTier | null;
  l3: ReadTier | null;
  /** `hit_rate_threshold`: below it, L1 insertion of fetched rows is synchronous; at or above, deferred. */
  hitRateThreshold: number;
  /** HPS's approximate mode: at or above the threshold, L1 misses get the default vector at once. */
  approximate: boolean;
  /** Insert L3 hits into L2 (`cache_missed_embeddings`). */
  cacheMissedEmbeddings: boolean;
  /** Insert L3 hits into L2 before the request returns instead of off the request path (prefetch). */
  cacheAtOnce?: boolean;
  /**
   * The table's write epoch (element 0), shared by every thread: writers make it odd while they change
   * the tiers and even again when done. Rows fetched from below are cached only if no write overlapped
   * the fetch; otherwise what was just cached is taken out again, so that a stale row read before an
   * update can never outlive it in a cache.
   */
  epoch: Int32Array;
}

/**
 * A tier below L1 that answers asynchronously (the Redis Cluster tier): the pipeline awaits it between
 * the host arena (its near cache, when there is one) and L3.
 */
export interface RemoteTier {
  /** Writes row i of `out` for each found keys[i]; resolves to the ascending positions not found. Never rejects for a fault. */
  lookup(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array>;
  insert(keys: BigInt64Array, vectors: Float32Array): Promise<void>;
  erase(keys: BigInt64Array): Promise<number>;
  clear(): Promise<void>;
}
