import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * Defaults of every configuration value, shared by the ps.json reader and the typed options.
 * HPS values come from NVIDIA-Merlin/HugeCTR: the ps.json parser `parameter_server_config::init` in
 * HugeCTR/src/hps/inference_utils.cpp, the struct initialisers in HugeCTR/include/hps/inference_utils.hpp
 * and docs/source/hierarchical_parameter_server/hps_database_backend.md. docs/configuration.md lists
 * each one with its source; where they disagree, the parser wins (it is what a ps.json got).
 */

/** `max_batch_size` of a model (parser: 64). */
export const MODEL_MAX_BATCH_SIZE = 64;
/** `gpucache` (parser: true). */
export const GPU_CACHE = true;
/** `gpucacheper` (parser: 0.2). */
export const GPU_CACHE_FRACTION = 0.2;
/** `hit_rate_threshold` (parser: 0.9). */
export const HIT_RATE_THRESHOLD = 0.9;
/** `cache_refresh_percentage_per_iteration` (parser: 0). */
export const CACHE_REFRESH_FRACTION = 0;
/** `refresh_delay`, `refresh_interval`, seconds (parser: 0.0). */
export const REFRESH_DELAY_SEC = 0;
export const REFRESH_INTERVAL_SEC = 0;
/** `deployed_device_list` (InferenceParams default {0}; the parser requires it). */
export const DEPLOYED_DEVICES: readonly number[] = [0];
/** `maxnum_catfeature_query_per_table_per_sample` (InferenceParams default {26}; the parser requires it). */
export const MAX_QUERY_PER_SAMPLE = 26;
/** `default_value_for_each_table` element (HugeCTR `default_emb_vec_value` 0.0; the parser pads with 0). */
export const DEFAULT_VALUE = 0;
/** `embedding_table_names` when absent: `sparse_embedding<i>` from 0 (parser). */
export const defaultTableName = (i: number): string => `sparse_embedding${i}`;
/** `supportlonglong` (docs: true). */
export const SUPPORT_LONG_LONG = true;

/** volatile_db `num_partitions` (struct: min(16, hardware threads)). */
export const numPartitionsDefault = (): number => Math.max(1, Math.min(16, availableParallelism()));
/** volatile_db `allocation_rate`, bytes (struct: 256 MiB). */
export const ALLOCATION_RATE = 256 * 1024 * 1024;
/** volatile_db `max_batch_size` (struct: 64 Ki). */
export const VOLATILE_MAX_BATCH_SIZE = 65536;
/** volatile_db `overflow_margin` (struct: SIZE_MAX, no limit): the largest safe integer here. */
export const OVERFLOW_MARGIN = Number.MAX_SAFE_INTEGER;
/** volatile_db `overflow_policy` (struct and docs: evict_random; parsers before 2023 used evict_oldest). */
export const OVERFLOW_POLICY = 'evict_random';
/** volatile_db `overflow_resolution_target` (struct: 0.8). */
export const OVERFLOW_RESOLUTION_TARGET = 0.8;
/** volatile_db `initial_cache_rate` (struct: 1.0). */
export const INITIAL_CACHE_RATE = 1;
/** volatile_db `cache_missed_embeddings` (struct: false). */
export const CACHE_MISSED_EMBEDDINGS = false;
/** volatile_db `address` (struct: "127.0.0.1:7000"), `user_name` ("default"), `password` (""). */
export const REDIS_ADDRESS = '127.0.0.1:7000';
export const REDIS_USER = 'default';
/** volatile_db `num_node_connections` (struct: 5). */
export const REDIS_NODE_CONNECTIONS = 5;
/** volatile_db `enable_tls`, TLS files and SNI name (struct defaults). */
export const ENABLE_TLS = false;
export const TLS_CA_CERTIFICATE = 'cacertbundle.crt';
export const TLS_CLIENT_CERTIFICATE = 'client_cert.pem';
export const TLS_CLIENT_KEY = 'client_key.pem';
export const TLS_SERVER_NAME = 'redis.localhost';
/** volatile_db `refresh_time_after_fetch` (HPS 2022: false). */
export const REFRESH_TIME_AFTER_FETCH = false;
/** Port assumed for an address given without one (Redis's own default). */
export const REDIS_PORT = 6379;

/** persistent_db `max_batch_size` (struct: 64 Ki; before 2023 max_get/max_set_batch_size, 10,000). */
export const PERSISTENT_MAX_BATCH_SIZE = 65536;
/** persistent_db `read_only` (struct: false). */
export const READ_ONLY = false;
/**
 * persistent_db `path`. HPS used `<tmp>/rocksdb`; an LMDB store gets its own folder name so that it never
 * writes into a RocksDB database left there by HPS.
 */
export const persistentPathDefault = (): string => join(tmpdir(), 'hps-lmdb');

/** update_source `max_batch_size` (struct: 8 Ki) and `poll_timeout_ms` (struct: 500). */
export const UPDATE_MAX_BATCH_SIZE = 8192;
export const UPDATE_POLL_TIMEOUT_MS = 500;

/*
 * Our extensions (no HPS equivalent).
 */
export const L1_POLICY = 'lru';
export const L1_BACKEND = 'auto';
export const APPROXIMATE_ON_HIGH_HIT_RATE = false;
export const DEVICE_MODE = 'replicated';
/** volatile_db `near_cache`: a host arena in front of a redis_cluster tier. */
export const NEAR_CACHE = false;
/**
 * redis_stream update source: server, stream key prefix (a table's stream is the prefix + its tag
 * `hps_et.<model>.<table>`, so by default the tag itself), group.
 */
export const STREAM_ADDRESS = '127.0.0.1:6379';
export const STREAM_PREFIX = '';
export const STREAM_GROUP = 'hps';
/** Lookup worker threads: one per core beyond the calling thread, at most 8 (0 on one core: all inline). */
export const workerThreadsDefault = (): number => Math.max(0, Math.min(8, availableParallelism() - 1));
