import { z } from 'zod';
import * as F from './fields.js';
import { arrayOf, nonEmptyStr, oneOf, orText, str } from './fields.js';
import { MAX_DIM, MAX_PARTITIONS } from './limits.js';

// Numbers and booleans may be written as strings, as the HugeCTR Triton backend read them (fields.ts).
const bool = () => orText(F.bool());
const num = () => orText(F.num());
const posInt = () => orText(F.posInt());
const nonNegInt = () => orText(F.nonNegInt());
const nonNegNum = () => orText(F.nonNegNum());
const intIn = (lo: number, hi: number) => orText(F.intIn(lo, hi));
const fraction = () => orText(F.fraction());
const openFraction = () => orText(F.openFraction());
const posSize = () => orText(F.posSize());

/*
 * The HPS ps.json format: every key HugeCTR's parser (parameter_server_config::init, up to release
 * 25.03) or its hps_database_backend docs know, plus our documented extensions. Any other key is
 * ignored with a warning, as HPS ignored it, or is an error in strict mode (unknown-keys.ts removes
 * them before these strict schemas see the input). Values are checked one by one here; checks across
 * fields live in ps-json.ts.
 */

/** Spellings HPS accepted for each database type (get_hps_database_type), by canonical name. */
export const VOLATILE_TYPES = {
  disabled: ['disabled', 'disable', 'none'],
  hash_map: ['hash_map', 'hashmap', 'hash', 'map'],
  parallel_hash_map: ['parallel_hash_map', 'parallel_hashmap', 'parallel_hash', 'parallel_map'],
  multi_process_hash_map: ['multi_process_hash_map', 'multi_process_hashmap', 'multi_process_hash', 'multi_process_map'],
  redis_cluster: ['redis_cluster', 'redis'],
} as const;

export const PERSISTENT_TYPES = {
  disabled: ['disabled', 'disable', 'none'],
  rocks_db: ['rocks_db', 'rocksdb', 'rocks'],
  lmdb: ['lmdb'],
} as const;

/** get_hps_updatesource_type, plus our redis_stream. */
export const UPDATE_SOURCE_TYPES = {
  null: ['null', 'none'],
  kafka_message_queue: ['kafka_message_queue', 'kafka_mq', 'kafka'],
  redis_stream: ['redis_stream'],
} as const;

/** get_hps_overflow_policy. */
export const OVERFLOW_POLICIES = {
  evict_random: ['evict_random', 'random'],
  evict_least_used: ['evict_least_used', 'least_used'],
  evict_oldest: ['evict_oldest', 'oldest'],
} as const;

/** The canonical name for an accepted spelling. */
export function canonical<T extends Record<string, readonly string[]>>(table: T, name: string): keyof T & string {
  for (const [key, spellings] of Object.entries(table)) if (spellings.includes(name)) return key;
  throw new Error(`unreachable: ${name} was validated against ${Object.keys(table).join(', ')}`);
}

function spellings(table: Record<string, readonly string[]>) {
  const all = Object.values(table).flat() as [string, ...string[]];
  return oneOf(all, Object.keys(table));
}

const OBJECT = { error: 'an object' };

const filters = () => arrayOf(str(), 'regular expressions (strings)');

export const modelSchema = z.strictObject({
  model: nonEmptyStr(),
  sparse_files: arrayOf(nonEmptyStr(), 'paths of HugeCTR sparse model folders (non-empty strings)').optional(),
  dense_file: str().optional(),
  network_file: str().optional(),
  embedding_table_names: arrayOf(nonEmptyStr(), 'non-empty table names').optional(),
  embedding_vecsize_per_table: arrayOf(intIn(1, MAX_DIM), 'positive integers'),
  default_value_for_each_table: arrayOf(num(), 'numbers').optional(),
  maxnum_catfeature_query_per_table_per_sample: arrayOf(posInt(), 'positive integers').optional(),
  maxnum_des_feature_per_sample: nonNegInt().optional(),
  gpucache: bool().optional(),
  gpucacheper: fraction().optional(),
  hit_rate_threshold: nonNegNum().optional(),
  deployed_device_list: arrayOf(nonNegInt(), 'GPU ids (integers >= 0)').optional(),
  max_batch_size: posInt().optional(),
  cache_refresh_percentage_per_iteration: fraction().optional(),
  refresh_delay: nonNegNum().optional(),
  refresh_interval: nonNegNum().optional(),
  num_of_worker_buffer_in_pool: nonNegInt().optional(),
  num_of_refresher_buffer_in_pool: nonNegInt().optional(),
  thread_pool_size: posInt().optional(),
  use_static_table: bool().optional(),
  embedding_cache_type: oneOf(['dynamic', 'static', 'uvm', 'stochastic']).optional(),
  use_context_stream: bool().optional(),
  use_hctr_cache_implementation: bool().optional(),
  init_ec: bool().optional(),
  enable_pagelock: bool().optional(),
  fp8_quant: bool().optional(),
  fuse_embedding_table: bool().optional(),
  label_dim: posInt().optional(),
  slot_num: posInt().optional(),
  // Extensions.
  l1_policy: oneOf(['lru', 'lfu']).optional(),
  l1_backend: oneOf(['auto', 'cuda', 'wasm']).optional(),
  approximate_on_high_hit_rate: bool().optional(),
  device_mode: oneOf(['replicated', 'sharded']).optional(),
}, OBJECT);

export const volatileDbSchema = z.strictObject({
  type: spellings(VOLATILE_TYPES).optional(),
  address: str().optional(),
  user_name: str().optional(),
  password: str().optional(),
  num_partitions: intIn(1, MAX_PARTITIONS).optional(),
  allocation_rate: posInt().optional(),
  algorithm: oneOf(['stl', 'phm']).optional(),
  shared_memory_size: posInt().optional(),
  shared_memory_name: str().optional(),
  shared_memory_auto_remove: bool().optional(),
  num_node_connections: posInt().optional(),
  max_batch_size: posInt().optional(),
  max_get_batch_size: posInt().optional(),
  max_set_batch_size: posInt().optional(),
  enable_tls: bool().optional(),
  tls_ca_certificate: str().optional(),
  tls_client_certificate: str().optional(),
  tls_client_key: str().optional(),
  tls_server_name_identification: str().optional(),
  refresh_time_after_fetch: bool().optional(),
  overflow_margin: posSize().optional(),
  overflow_policy: spellings(OVERFLOW_POLICIES).optional(),
  overflow_resolution_target: openFraction().optional(),
  initialize_after_startup: bool().optional(),
  initial_cache_rate: fraction().optional(),
  cache_missed_embeddings: bool().optional(),
  update_filters: filters().optional(),
  // Extensions.
  near_cache: bool().optional(),
}, OBJECT);

export const persistentDbSchema = z.strictObject({
  type: spellings(PERSISTENT_TYPES).optional(),
  path: nonEmptyStr().optional(),
  num_threads: posInt().optional(),
  read_only: bool().optional(),
  max_batch_size: posInt().optional(),
  max_get_batch_size: posInt().optional(),
  max_set_batch_size: posInt().optional(),
  initialize_after_startup: bool().optional(),
  update_filters: filters().optional(),
}, OBJECT);

export const updateSourceSchema = z.strictObject({
  type: spellings(UPDATE_SOURCE_TYPES).optional(),
  brokers: str().optional(),
  metadata_refresh_interval_ms: posInt().optional(),
  receive_buffer_size: posInt().optional(),
  poll_timeout_ms: posInt().optional(),
  max_batch_size: posInt().optional(),
  failure_backoff_ms: posInt().optional(),
  max_commit_interval: posInt().optional(),
  // Extensions (redis_stream).
  stream_prefix: str().optional(),
  group: nonEmptyStr().optional(),
}, OBJECT);

export const psJsonSchema = z.strictObject({
  supportlonglong: bool().optional(),
  fuse_embedding_table: bool().optional(),
  models: z.array(modelSchema, { error: 'an array of model objects' }).min(1, { error: 'at least one model' }),
  volatile_db: volatileDbSchema.optional(),
  persistent_db: persistentDbSchema.optional(),
  update_source: updateSourceSchema.optional(),
  // Extensions.
  key_type: oneOf(['int64', 'uint32']).optional(),
  worker_threads: nonNegInt().optional(),
}, OBJECT);

/** Top-level keys of HugeCTR 3.1-3.3 ps.json files, which HPS 3.4+ replaced: the unknown-key error says by what. */
export const LEGACY_KEY_HINTS: Readonly<Record<string, string>> = {
  db_type: 'a HugeCTR 3.1-3.3 key; HPS 3.4+ (and this reader) use volatile_db.type and persistent_db.type',
  redis_ip: 'a HugeCTR 3.1-3.3 key; HPS 3.4+ (and this reader) use volatile_db.address with volatile_db.type "redis_cluster"',
  rocksdb_path: 'a HugeCTR 3.1-3.3 key; HPS 3.4+ (and this reader) use persistent_db.path with persistent_db.type "rocks_db"',
  cache_size_percentage_redis: 'a HugeCTR 3.1-3.3 key; HPS 3.4+ (and this reader) use volatile_db.initial_cache_rate',
  cpu_memory_db: 'a HugeCTR 3.3 block; HPS 3.4+ (and this reader) use volatile_db (type "hash_map" or "parallel_hash_map")',
  distributed_db: 'a HugeCTR 3.3 block; HPS 3.4+ (and this reader) use volatile_db (type "redis_cluster")',
};

export type PsJson = z.infer<typeof psJsonSchema>;
export type PsJsonModel = z.infer<typeof modelSchema>;
