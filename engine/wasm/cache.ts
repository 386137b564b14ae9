/**
 * Typed signatures of the L1 cache kernels exported by wasm/hps.wasm (wasm/cache.c). Every pointer is a
 * byte offset into the cache's shared memory; `header` is the cache header (see layout.ts). `owner` is
 * the writing thread's id + 1, held in the writer lock word. Used only by engine/cache/wasm-cache.ts.
 */
export interface CacheKernels {
  /** Advances the cache clock; stores the new stamp (u64) at `stampOut`. One per API call. */
  l1_tick(header: number, stampOut: number): void;
  /**
   * Hit rows to `out` (row i for keys[i]; rows of misses hold no data), miss positions (u32, ascending)
   * to `miss`; returns misses. `probe` is n x 8 bytes of scratch.
   */
  l1_query(header: number, keys: number, n: number, out: number, miss: number, stamp: number, probe: number): number;
  /** Inserts or replaces rows (n x dim floats at `vectors`), evicting by the policy. */
  l1_insert(header: number, owner: number, keys: number, n: number, vectors: number, stamp: number): void;
  /** Overwrites rows of cached keys; returns rows updated. */
  l1_update(header: number, owner: number, keys: number, n: number, vectors: number): number;
  /** Removes keys; returns how many were present. */
  l1_erase(header: number, owner: number, keys: number, n: number): number;
  l1_clear(header: number, owner: number): void;
  /** Keys of sets [first, first + count) to `out`; returns how many. */
  l1_dump(header: number, owner: number, first: number, count: number, out: number): number;
  /** If `owner` (an ended thread) holds the writer lock: drops its half-written slot, recounts, unlocks; 1 if so. */
  l1_recover(header: number, owner: number): number;
  /**
   * Small-batch path: dedup, one probe per distinct key, hit rows in request order to `out` (repeats
   * copied from the first occurrence); distinct indexes and keys that missed to `miss` / `missKeys`.
   * Writes the distinct count (u32) to `distinct`; returns the number of distinct keys that missed.
   */
  l1_serve(header: number, keys: number, n: number, out: number, inverse: number, first: number, miss: number,
    missKeys: number, table: number, mask: number, stamp: number, probe: number, distinct: number): number;
  /** After l1_serve: row j of `rows` to every position of distinct key miss[j] in `out`. */
  l1_place_missed(out: number, dim: number, inverse: number, n: number, miss: number, m: number, rows: number,
    slotOf: number, distinct: number): void;
  /** The set the key (an i64 at `key`) maps to. */
  l1_set_index(header: number, key: number): number;
}
