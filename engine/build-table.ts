import type { ModelConfig, ResolvedConfig, TableConfig } from './config/types.js';
import { createL1Cache } from './cache/select.js';
import type { EmbeddingCache, L1Spec } from './cache/types.js';
import { WasmEmbeddingCache } from './cache/wasm-cache.js';
import { HostArena } from './host/host-arena.js';
import type { ImportSource } from './import/source.js';
import type { LmdbStore } from './lmdb/lmdb-store.js';
import type { TableParts, TableSetup } from './pipeline/table-setup.js';
import type { Cluster } from 'ioredis';
import { redisTierFor, warmRedis } from './redis/open.js';
import type { RedisTier } from './redis/redis-tier.js';

/** A table's tiers as built on the calling thread at open, before the runtime and pool exist. */
export interface BuiltTable {
  setup: TableSetup;
  parts: TableParts;
  /** The Redis tier (also in parts.remote), when volatile_db is a redis_cluster. */
  redis: RedisTier | null;
}

/** The smallest L1 worth having: a few sets of the WASM cache. */
const MIN_L1_ROWS = 64;

/**
 * Builds one table's tiers: L3 (the model's LMDB store, or none), L2 (a HostArena when volatile_db is
 * a hash map), L1 (CUDA or WASM by `l1_backend`, `gpucacheper` of the table's rows), then warms L2
 * with `initial_cache_rate` of the rows and L1 with as many as it holds. With no persistent tier, the
 * rows come from the table's sparse file straight into L2, as HPS did.
 */
export async function buildTable(
  config: ResolvedConfig, model: ModelConfig, table: TableConfig,
  store: LmdbStore | null, sparse: ImportSource | null,
  warn: (line: string) => void, log: (line: string) => void,
  l1Cache?: (spec: L1Spec) => EmbeddingCache, redisClients: Cluster[] | null = null, redisEvents: (line: string) => void = log,
): Promise<BuiltTable> {
  const rows = store?.table(table.name)?.count ?? sparse?.totalRows ?? 0;
  const v = config.volatileDb;
  let l2: HostArena | null = null;
  if (v.type === 'hash_map' || v.type === 'parallel_hash_map') {
    l2 = HostArena.create({
      dim: table.dim,
      numPartitions: v.numPartitions,
      allocationRate: v.allocationRate,
      overflowMargin: v.overflowMargin,
      overflowPolicy: v.overflowPolicy,
      overflowResolutionTarget: v.overflowResolutionTarget,
      expectedKeys: Math.ceil(rows * (store ? v.initialCacheRate : 1)),
    });
  }
  let redis: RedisTier | null = null;
  if (v.type === 'redis_cluster' && redisClients) {
    redis = redisTierFor(redisClients, config, model, table, redisEvents);
    // The near cache: a host arena in front of Redis, holding what this process read from it.
    if (v.nearCache) {
      l2 = HostArena.create({
        dim: table.dim, numPartitions: v.numPartitions, allocationRate: v.allocationRate, overflowMargin: v.overflowMargin,
        overflowPolicy: v.overflowPolicy, overflowResolutionTarget: v.overflowResolutionTarget, expectedKeys: Math.ceil(rows * v.initialCacheRate),
      });
    }
  }

  let l1: EmbeddingCache | null = null;
  if (model.l1Enabled && rows > 0) {
    const capacity = Math.max(MIN_L1_ROWS, Math.ceil(rows * model.l1CacheFraction));
    l1 = l1Cache ? l1Cache({ model: model.name, table: table.name, dim: table.dim, capacity, policy: model.l1Policy }) : createL1Cache({
      dim: table.dim,
      capacity,
      policy: model.l1Policy,
      backend: model.l1Backend,
      devices: model.deployedDevices,
      deviceMode: model.deviceMode,
      log,
    });
  }

  const rate = store ? v.initialCacheRate : 1;
  await warmUp(table, store, sparse, l2, l1, rate);
  if (redis) await warmRedis(redis, table, store, sparse, rate);
  return {
    setup: {
      model: model.name,
      table: table.name,
      dim: table.dim,
      defaultValue: table.defaultValue,
      hitRateThreshold: model.hitRateThreshold,
      approximate: model.approximateOnHighHitRate,
      cacheMissedEmbeddings: v.cacheMissedEmbeddings,
      // The workers share a WASM L1; another cache (CUDA) is asked by the calling thread only.
      l1: l1 instanceof WasmEmbeddingCache ? l1.handle() : null,
      l2: l2 ? l2.handle() : null,
      l3Root: store ? config.persistentDb.path : null,
      epoch: new SharedArrayBuffer(4),
    },
    parts: { l1, l2, store, remote: redis },
    redis,
  };
}

/** Loads the first `rate` of the table's rows into L2 and the first rows L1 can hold into L1; returns how many each got. */
export async function warmUp(
  table: TableConfig, store: LmdbStore | null, sparse: ImportSource | null,
  l2: HostArena | null, l1: EmbeddingCache | null, rate: number,
): Promise<{ l2: number; l1: number }> {
  const total = store?.table(table.name)?.count ?? sparse?.totalRows ?? 0;
  const l2Target = l2 ? Math.floor(total * rate) : 0;
  const l1Target = l1 ? Math.min(l1.capacity, total) : 0;
  const warmed = { l2: 0, l1: 0 };
  if (l2Target === 0 && l1Target === 0) return warmed;
  const chunks = store ? syncToAsync(store.scan(table.name)) : sparse!.chunks(65536, table.keyType);
  for await (const { keys, vectors } of chunks) {
    if (warmed.l2 >= l2Target && warmed.l1 >= l1Target) break;
    if (warmed.l2 < l2Target) {
      const n = Math.min(keys.length, l2Target - warmed.l2);
      l2!.insert(keys.subarray(0, n), vectors.subarray(0, n * table.dim));
      warmed.l2 += n;
    }
    if (warmed.l1 < l1Target) {
      const n = Math.min(keys.length, l1Target - warmed.l1);
      await l1!.insert(keys.subarray(0, n), vectors.subarray(0, n * table.dim));
      warmed.l1 += n;
    }
  }
  return warmed;
}

async function* syncToAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
