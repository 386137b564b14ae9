import type { KeyType } from '../keys.js';
import type { CacheBackend, CachePolicy, OverflowPolicy } from './types.js';

/**
 * The typed configuration of the API: the same parameters as an HPS ps.json, camelCase, with the same
 * defaults (docs/configuration.md gives each ps.json name). Only `models`, and each model's `name` and
 * `tables` (each with `name` and `dim`), are required. Resolved by `loadConfig` / `resolveConfig`.
 */
export interface HpsOptions {
  /** Folder relative paths (sparse files, the persistent path) resolve against. Default: `process.cwd()`. */
  baseDir?: string;
  /** Key type of every table (ps.json `supportlonglong`: true = int64). Default `'int64'`. */
  keyType?: KeyType;
  models: ModelOptions[];
  /**
   * The L2 tier (ps.json `volatile_db`). Absent: a `parallel_hash_map` with defaults. Present without
   * `type`: also `parallel_hash_map` (a ps.json block without `type` means disabled, as in HPS).
   */
  volatileDb?: VolatileDbOptions;
  /** The L3 tier (ps.json `persistent_db`). Absent: disabled. Present without `type`: `lmdb`. */
  persistentDb?: PersistentDbOptions;
  /** Online updates (ps.json `update_source`). Absent or null: none. */
  updateSource?: UpdateSourceOptions | null;
  /** Lookup worker threads; 0 serves everything inline. Default: cores - 1, at most 8. */
  workerThreads?: number;
}

export interface ModelOptions {
  /** Model name (ps.json `model`); also the name of its folder under the persistent path. */
  name: string;
  /** At least one table. */
  tables: TableOptions[];
  /** Whether the L1 cache is on (`gpucache`). Default true. */
  l1Enabled?: boolean;
  /** L1 capacity as a fraction of each table's rows, in [0, 1] (`gpucacheper`). Default 0.2. */
  l1CacheFraction?: number;
  /** L1 eviction policy (extension `l1_policy`). Default `'lru'`. */
  l1Policy?: CachePolicy;
  /** Force the CUDA or WASM L1 (extension `l1_backend`). Default `'auto'`. */
  l1Backend?: CacheBackend;
  /**
   * Batch hit rate at or above which L1 insertion is asynchronous (`hit_rate_threshold`), >= 0; above 1
   * means always synchronous. Default 0.9.
   */
  hitRateThreshold?: number;
  /** At or above the threshold, L1 misses get the default vector (HPS's behaviour; extension). Default false. */
  approximateOnHighHitRate?: boolean;
  /** GPU ids (`deployed_device_list`). Default `[0]`. */
  deployedDevices?: number[];
  /** Replicate tables on every device (HPS) or shard the key space (extension `device_mode`). Default `'replicated'`. */
  deviceMode?: 'replicated' | 'sharded';
  /** Largest batch of a lookup (`max_batch_size`). Default 64. */
  maxBatchSize?: number;
  /** Fraction of the L1 cache refreshed per iteration, in [0, 1] (`cache_refresh_percentage_per_iteration`). Default 0. */
  cacheRefreshFraction?: number;
  /** Seconds before the first refresh (`refresh_delay`). Default 0. */
  refreshDelaySec?: number;
  /** Seconds between refreshes, 0 = none (`refresh_interval`). Default 0. */
  refreshIntervalSec?: number;
}

export interface TableOptions {
  /** Table name (`embedding_table_names[i]`), unique in its model. */
  name: string;
  /** Vector dimension (`embedding_vecsize_per_table[i]`), a positive integer. */
  dim: number;
  /** Every element of the default vector (`default_value_for_each_table[i]`). Default 0. */
  defaultValue?: number;
  /** Most keys one sample queries in this table (`maxnum_catfeature_query_per_table_per_sample[i]`). Default 26. */
  maxQueryPerSample?: number;
  /** A HugeCTR sparse model folder to load into the persistent tier (`sparse_files[i]`). Default none. */
  sparseFile?: string | null;
}

export interface VolatileDbOptions {
  /** `hash_map` / `parallel_hash_map` (host arena), `redis_cluster`, `disabled`. Default `parallel_hash_map`. */
  type?: 'hash_map' | 'parallel_hash_map' | 'redis_cluster' | 'disabled';
  /** Partitions per table (`num_partitions`). Default min(16, cores). */
  numPartitions?: number;
  /** Bytes added to a partition per growth step (`allocation_rate`). Default 256 MiB. */
  allocationRate?: number;
  /** Rows per partition before overflow handling (`overflow_margin`). Default no limit. */
  overflowMargin?: number;
  /** Which rows overflow handling evicts (`overflow_policy`). Default `'evict_random'`. */
  overflowPolicy?: OverflowPolicy;
  /** Fraction of `overflowMargin` to evict down to, in (0, 1] (`overflow_resolution_target`). Default 0.8. */
  overflowResolutionTarget?: number;
  /** Fraction of each table loaded into L2 at open, in [0, 1] (`initial_cache_rate`). Default 1. */
  initialCacheRate?: number;
  /** Insert L3 hits into L2 (`cache_missed_embeddings`). Default false. */
  cacheMissedEmbeddings?: boolean;
  /** Keys per request to the tier (`max_batch_size`). Default 65536. */
  maxBatchSize?: number;
  /** Redis cluster servers, `host[:port]` (`address`, comma-separated there). Default `127.0.0.1:7000`. */
  addresses?: string | string[];
  /** Redis user (`user_name`). Default `'default'`. */
  userName?: string | null;
  /** Redis password (`password`). Default none. */
  password?: string | null;
  /** Keys per Redis read (`max_get_batch_size`). Default `maxBatchSize`. */
  maxGetBatchSize?: number;
  /** Keys per Redis write pipeline (`max_set_batch_size`). Default `maxBatchSize`. */
  maxSetBatchSize?: number;
  /** Cluster clients per process; partitions are spread over them (`num_node_connections`). Default 5. */
  numNodeConnections?: number;
  /** TLS to the Redis nodes (`enable_tls`). Default false. */
  enableTls?: boolean;
  /** CA certificate file or folder (`tls_ca_certificate`). Default `cacertbundle.crt`. */
  tlsCaCertificate?: string;
  /** Client certificate (`tls_client_certificate`). Default `client_cert.pem`. */
  tlsClientCertificate?: string;
  /** Client key (`tls_client_key`). Default `client_key.pem`. */
  tlsClientKey?: string;
  /** Server name sent and checked (`tls_server_name_identification`). Default `redis.localhost`. */
  tlsServerName?: string;
  /** evict_oldest: reads refresh an entry's time too (`refresh_time_after_fetch`). Default false. */
  refreshTimeAfterFetch?: boolean;
  /**
   * redis_cluster only: keep a host arena in this process in front of Redis as a near cache (extension
   * `near_cache`). Default false.
   */
  nearCache?: boolean;
}

export interface PersistentDbOptions {
  /** `lmdb` or `disabled` (ps.json `rocks_db` means `lmdb`). Default `lmdb` when this block is given. */
  type?: 'lmdb' | 'disabled';
  /** Folder holding one LMDB environment per model (`path`). Default `<os tmpdir>/hps-lmdb`. */
  path?: string;
  /** Open read-only, for serving processes (`read_only`). Default false. */
  readOnly?: boolean;
  /** Keys per read transaction batch (`max_get_batch_size`, or `max_batch_size`). Default 65536. */
  maxGetBatchSize?: number;
  /** Keys per write transaction batch (`max_set_batch_size`, or `max_batch_size`). Default 65536. */
  maxSetBatchSize?: number;
}

export interface UpdateSourceOptions {
  /** Redis Streams (HPS's Kafka source is not supported). */
  type: 'redis_stream';
  /** Redis servers, `host[:port]` (`brokers`). Default `127.0.0.1:6379`. */
  addresses?: string | string[];
  /** Prefix of each table's stream key, which is the prefix + the table's tag (extension `stream_prefix`). Default `''`. */
  streamPrefix?: string;
  /** Accepted and listed as not supported: every process reads every message, which a consumer group would split. */
  group?: string;
  /** Most updates applied per batch (`max_batch_size`). Default 8192. */
  maxBatchSize?: number;
  /** Longest wait for more updates before applying a batch, ms (`poll_timeout_ms`). Default 500. */
  pollTimeoutMs?: number;
}
