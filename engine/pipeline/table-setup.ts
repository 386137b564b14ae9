import { WasmEmbeddingCache, type WasmCacheHandle } from '../cache/wasm-cache.js';
import { HostArena, type HostArenaHandle } from '../host/host-arena.js';
import { LmdbStore } from '../lmdb/lmdb-store.js';
import { keyOrder } from './key-order.js';
import type { EmbeddingCache } from '../cache/types.js';
import type { CacheTier, RemoteTier, TableTiers } from './tiers.js';

/**
 * Everything a thread needs to serve one table: structured-cloneable, so it travels to lookup workers
 * in workerData. Shared memories (L1, L2, the write epoch) are shared, not copied; L3 is reopened
 * read-only in each worker.
 */
export interface TableSetup {
  model: string;
  table: string;
  dim: number;
  defaultValue: number;
  hitRateThreshold: number;
  approximate: boolean;
  cacheMissedEmbeddings: boolean;
  /** The WASM L1 cache, shared with the workers; null when L1 is another cache (CUDA: the calling thread's). */
  l1: WasmCacheHandle | null;
  l2: HostArenaHandle | null;
  /** The LMDB root folder (the model's environment is `<root>/<model>`), when L3 is enabled. */
  l3Root: string | null;
  /** Int32 element 0: the table's write epoch (see TableTiers.epoch). */
  epoch: SharedArrayBuffer;
}

/** The tier objects a thread has for one table. */
export interface TableParts {
  /** The WASM cache (answers at once, on any thread) or another EmbeddingCache (CUDA: awaited). */
  l1: EmbeddingCache | null;
  l2: HostArena | null;
  store: LmdbStore | null;
  /** The Redis tier (calling thread only; `l2` is then its near cache), when volatile_db is a redis_cluster. */
  remote?: RemoteTier | null;
}

/** The pipeline's view of a table's tiers, over tier objects this thread holds. */
export function tiersOf(setup: TableSetup, parts: TableParts): TableTiers {
  const { l1, l2, store } = parts;
  const epoch = new Int32Array(setup.epoch);
  return {
    dim: setup.dim,
    defaultValue: setup.defaultValue,
    l1: l1 ? cacheTier(l1) : null,
    l2,
    // A read-only store may lack the table until its first import: every key misses L3 until then.
    l3: store ? { lookup: (keys, out) => readInKeyOrder(store, setup.table, keys, out) } : null,
    hitRateThreshold: setup.hitRateThreshold,
    approximate: setup.approximate,
    cacheMissedEmbeddings: setup.cacheMissedEmbeddings,
    epoch,
  };
}

/**
 * L3 reads of a batch in key order (keyOrder): consecutive B-tree descents share their upper pages. The
 * rows still land at their positions and the missing positions come back ascending.
 */
function readInKeyOrder(store: LmdbStore, table: string, keys: BigInt64Array, out: Float32Array): Uint32Array {
  if (keys.length < 2) return store.getIfTable(table, keys, out);
  const missing = store.getIfTable(table, keys, out, keyOrder(keys));
  return missing.length > 1 ? missing.sort() : missing;
}

/**
 * Attaches to a table's shared tiers from another thread; `stores` caches the read-only LMDB
 * environments so tables of one model share one.
 */
export function attachTable(setup: TableSetup, stores: Map<string, LmdbStore>): TableTiers {
  let store: LmdbStore | null = null;
  if (setup.l3Root !== null) {
    const id = `${setup.l3Root}\0${setup.model}`;
    store = stores.get(id) ?? LmdbStore.open(setup.l3Root, setup.model, { readOnly: true });
    stores.set(id, store);
  }
  return tiersOf(setup, {
    l1: setup.l1 ? WasmEmbeddingCache.attach(setup.l1) : null,
    l2: setup.l2 ? HostArena.attach(setup.l2) : null,
    store,
  });
}

/** Whether the pipeline can call `cache` synchronously (and the workers share it). */
export function isSyncCache(cache: EmbeddingCache | null): cache is WasmEmbeddingCache | null {
  return cache === null || cache instanceof WasmEmbeddingCache;
}

function cacheTier(cache: EmbeddingCache): CacheTier {
  if (cache instanceof WasmEmbeddingCache) {
    return {
      lookup: (keys, out) => cache.querySync(keys, out),
      insert: (keys, vectors) => cache.insertSync(keys, vectors),
      erase: (keys) => cache.eraseSync(keys),
    };
  }
  return {
    lookup: (keys, out) => cache.query(keys, out),
    insert: (keys, vectors) => cache.insert(keys, vectors),
    erase: (keys) => cache.erase(keys),
  };
}
