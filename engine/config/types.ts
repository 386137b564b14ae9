import type { KeyType } from '../keys.js';

/**
 * The resolved configuration every part of the engine reads: defaults applied, validated, camelCase.
 * It is produced from either the typed options object or an HPS `ps.json` (snake_case keys, HPS's
 * meanings and defaults) by engine/config/. Fields may be added; none are removed or renamed lightly.
 */
export interface ResolvedConfig {
  /** Directory relative paths in the config are resolved against (the ps.json's folder, or cwd). */
  baseDir: string;
  /** Absolute path of the ps.json the config was read from; null for an object or typed options. */
  sourceFile: string | null;
  /** HPS `supportlonglong`: true -> int64 keys, false -> uint32 keys, for every table. */
  keyType: KeyType;
  models: ModelConfig[];
  volatileDb: VolatileDbConfig;
  persistentDb: PersistentDbConfig;
  updateSource: UpdateSourceConfig | null;
  /** Lookup worker threads (piscina pool size); 0 serves everything inline on the calling thread. */
  workerThreads: number;
  /**
   * Keys accepted that have no effect yet, as key paths of the input (`models[0].max_batch_size` for a
   * ps.json, `models[0].maxBatchSize` for typed options); reported once at open. coverage.ts decides.
   */
  notYetSupported: string[];
  /** Warnings about the input, one line each (unknown ps.json keys, ignored as HPS ignored them). */
  warnings: string[];
}

export interface TableConfig {
  name: string;
  /** Vector dimension (`embedding_vecsize_per_table`). */
  dim: number;
  keyType: KeyType;
  /** Every element of the default vector (`default_value_for_each_table`, one scalar per table in HPS). */
  defaultValue: number;
  /** `maxnum_catfeature_query_per_table_per_sample`. */
  maxQueryPerSample: number;
  /** A HugeCTR sparse model folder (`sparse_files[i]`) to load into the persistent tier, if any. */
  sparseFile: string | null;
}

export type CachePolicy = 'lru' | 'lfu';
export type CacheBackend = 'auto' | 'cuda' | 'wasm';

export interface ModelConfig {
  name: string;
  tables: TableConfig[];
  /** `gpucache`: whether the L1 cache is enabled. */
  l1Enabled: boolean;
  /** `gpucacheper`: L1 capacity as a fraction of each table's rows. */
  l1CacheFraction: number;
  l1Policy: CachePolicy;
  /** Force the CUDA or the WASM cache; `auto` picks CUDA when a GPU and the addon are found. */
  l1Backend: CacheBackend;
  /** `hit_rate_threshold`. */
  hitRateThreshold: number;
  /** HPS's approximate mode: at or above the threshold, L1 misses get the default vector. Off by default. */
  approximateOnHighHitRate: boolean;
  /** `deployed_device_list`. */
  deployedDevices: number[];
  /** How tables are spread over `deployedDevices`: HPS replicates; `sharded` splits the key space. */
  deviceMode: 'replicated' | 'sharded';
  /** `max_batch_size`. */
  maxBatchSize: number;
  /** `cache_refresh_percentage_per_iteration`. */
  cacheRefreshFraction: number;
  /** `refresh_delay` and `refresh_interval`, seconds. */
  refreshDelaySec: number;
  refreshIntervalSec: number;
}

export type OverflowPolicy = 'evict_random' | 'evict_least_used' | 'evict_oldest';

export interface VolatileDbConfig {
  /** `hash_map` / `parallel_hash_map` -> HostArena; `redis_cluster` -> Redis; `disabled`. */
  type: 'hash_map' | 'parallel_hash_map' | 'redis_cluster' | 'disabled';
  numPartitions: number;
  /** Bytes added to a partition's row slab per growth step (`allocation_rate`). */
  allocationRate: number;
  /** Rows a partition may hold before overflow handling starts (`overflow_margin`). */
  overflowMargin: number;
  overflowPolicy: OverflowPolicy;
  /** Fraction of `overflowMargin` to evict down to (`overflow_resolution_target`). */
  overflowResolutionTarget: number;
  /** Fraction of each table loaded from the persistent tier at open (`initial_cache_rate`). */
  initialCacheRate: number;
  /** Insert L3 hits into L2 (`cache_missed_embeddings`). */
  cacheMissedEmbeddings: boolean;
  maxBatchSize: number;
  /** Keys per Redis read (HMGET) and per write pipeline (`max_get_batch_size` / `max_set_batch_size`, else `max_batch_size`). */
  maxGetBatchSize: number;
  maxSetBatchSize: number;
  /** Redis cluster addresses (`address`, "host:port,host:port"), user and password. */
  addresses: string[];
  userName: string | null;
  password: string | null;
  /** Cluster clients per process (`num_node_connections`); partitions are spread over them. */
  numNodeConnections: number;
  /** TLS to the Redis nodes (`enable_tls`), with the `tls_*` files and server name. */
  enableTls: boolean;
  tlsCaCertificate: string;
  tlsClientCertificate: string;
  tlsClientKey: string;
  tlsServerName: string;
  /** evict_oldest: a read also refreshes the entry's time (`refresh_time_after_fetch`). */
  refreshTimeAfterFetch: boolean;
  /** redis_cluster: keep a host arena in front of Redis as a near cache (extension `near_cache`). */
  nearCache: boolean;
}


export interface PersistentDbConfig {
  /** `rocks_db` in an HPS config is served by LMDB; `disabled` turns L3 off. */
  type: 'lmdb' | 'disabled';
  /** Folder holding one LMDB environment per model. */
  path: string;
  readOnly: boolean;
  maxGetBatchSize: number;
  maxSetBatchSize: number;
}

export interface UpdateSourceConfig {
  type: 'redis_stream';
  addresses: string[];
  /** Stream key prefix and consumer group. */
  streamPrefix: string;
  group: string;
  maxBatchSize: number;
  pollTimeoutMs: number;
}
