import { resolve } from 'node:path';
import type { KeyType } from '../keys.js';
import { parseAddresses } from './addresses.js';
import {
  checkLocalPath, checkModelName, checkPerTable, checkRegexes, checkUnique, isObject, matchesAll,
} from './checks.js';
import * as D from './defaults.js';
import { tablesFromNetworkFile } from './network-file.js';
import { fromZod, throwProblems, type Problem } from './problems.js';
import {
  canonical, LEGACY_KEY_HINTS, OVERFLOW_POLICIES, PERSISTENT_TYPES, psJsonSchema, UPDATE_SOURCE_TYPES, VOLATILE_TYPES,
  type PsJson, type PsJsonModel,
} from './ps-json-schema.js';
import type {
  ModelConfig, OverflowPolicy, PersistentDbConfig, ResolvedConfig, UpdateSourceConfig, VolatileDbConfig,
} from './types.js';

const PS_JSON_TOP_KEYS = ['supportlonglong', 'fuse_embedding_table', 'volatile_db', 'persistent_db', 'update_source'];
const PS_JSON_MODEL_KEYS = ['model', 'sparse_files', 'embedding_table_names', 'embedding_vecsize_per_table'];

/** Whether a parsed object is an HPS ps.json (snake_case keys) rather than typed options. */
export function looksLikePsJson(input: Record<string, unknown>): boolean {
  if (PS_JSON_TOP_KEYS.some((k) => k in input)) return true;
  const first = Array.isArray(input.models) ? input.models[0] : undefined;
  return isObject(first) && PS_JSON_MODEL_KEYS.some((k) => k in first);
}

/**
 * Validates a parsed ps.json and resolves it with HPS's defaults. `source` names it in errors (the
 * file, or "a ps.json object"); relative paths resolve against `baseDir`.
 */
export function resolvePsJson(given: unknown, baseDir: string, sourceFile: string | null, source: string): ResolvedConfig {
  const problems: Problem[] = [];
  const raw = withNetworkTables(given, baseDir, problems);
  const parsed = psJsonSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) problems.push(...fromZod(parsed.error.issues, psJsonSchema, LEGACY_KEY_HINTS));
  crossCheck(raw, problems);
  if (problems.length > 0 || !parsed.success) throwProblems(source, problems);
  return convert(parsed.data, baseDir, sourceFile);
}

/**
 * A copy of the ps.json where each model that has a `network_file` but no `embedding_vecsize_per_table`
 * (HugeCTR 3.0/3.1 files) gets its per-table arrays from the network graph, as HPS read them.
 */
function withNetworkTables(raw: unknown, baseDir: string, problems: Problem[]): unknown {
  if (!isObject(raw) || !Array.isArray(raw.models)) return raw;
  const models = raw.models.map((m: unknown, i) => {
    if (!isObject(m) || m.embedding_vecsize_per_table !== undefined || typeof m.network_file !== 'string' || m.network_file === '') return m;
    const t = tablesFromNetworkFile(resolve(baseDir, m.network_file), `models[${i}].network_file`, problems);
    if (t === null) return m;
    return {
      ...m,
      embedding_vecsize_per_table: t.dims,
      embedding_table_names: m.embedding_table_names ?? t.names,
      default_value_for_each_table: m.default_value_for_each_table ?? t.defaults,
      maxnum_catfeature_query_per_table_per_sample: m.maxnum_catfeature_query_per_table_per_sample ?? t.maxQuery,
    };
  });
  return { ...raw, models };
}

function crossCheck(raw: unknown, problems: Problem[]): void {
  if (!isObject(raw)) return;
  if (typeof raw.key_type === 'string' && typeof raw.supportlonglong === 'boolean'
      && (raw.key_type === 'int64') !== raw.supportlonglong) {
    problems.push({ path: 'key_type', message: `${JSON.stringify(raw.key_type)} contradicts supportlonglong: ${raw.supportlonglong}` });
  }
  const models = Array.isArray(raw.models) ? raw.models : [];
  checkUnique(models.map((m, i) => ({ value: isObject(m) ? m.model : undefined, path: `models[${i}].model` })), 'model name', problems);
  models.forEach((m, i) => { if (isObject(m)) checkModel(m, `models[${i}]`, problems); });
  for (const db of ['volatile_db', 'persistent_db'] as const) {
    const block = raw[db];
    if (isObject(block)) checkRegexes(block.update_filters, `${db}.update_filters`, problems);
  }
  if (isObject(raw.volatile_db) && typeof raw.volatile_db.address === 'string') {
    parseAddresses(raw.volatile_db.address, D.REDIS_PORT, 'volatile_db.address', problems);
  }
  if (isObject(raw.update_source) && typeof raw.update_source.brokers === 'string') {
    parseAddresses(raw.update_source.brokers, D.REDIS_PORT, 'update_source.brokers', problems);
  }
}

function checkModel(m: Record<string, unknown>, at: string, problems: Problem[]): void {
  checkModelName(m.model, `${at}.model`, problems);
  const dims = m.embedding_vecsize_per_table;
  if (Array.isArray(dims)) {
    if (dims.length === 0) problems.push({ path: `${at}.embedding_vecsize_per_table`, message: 'expected at least one table, got []' });
    const basis = `embedding_vecsize_per_table has ${dims.length}`;
    for (const key of ['embedding_table_names', 'default_value_for_each_table', 'maxnum_catfeature_query_per_table_per_sample'] as const) {
      checkPerTable(m[key], dims.length, `${at}.${key}`, basis, problems);
    }
    if (Array.isArray(m.sparse_files) && m.sparse_files.length > 0) {
      checkPerTable(m.sparse_files, dims.length, `${at}.sparse_files`, `${basis}; or [] for none`, problems);
    }
  }
  if (Array.isArray(m.embedding_table_names)) {
    checkUnique(m.embedding_table_names.map((value, j) => ({ value, path: `${at}.embedding_table_names[${j}]` })), 'table name', problems);
  }
  if (Array.isArray(m.deployed_device_list)) {
    checkUnique(m.deployed_device_list.map((value, j) => ({ value, path: `${at}.deployed_device_list[${j}]` })), 'device', problems);
  }
  if (Array.isArray(m.sparse_files)) m.sparse_files.forEach((f, j) => checkLocalPath(f, `${at}.sparse_files[${j}]`, problems));
}

function convert(data: PsJson, baseDir: string, sourceFile: string | null): ResolvedConfig {
  const notYetSupported: string[] = [];
  /** Lists `path` when the key is given with a value that asks for something the engine lacks. */
  const flag = (path: string, given: boolean) => { if (given) notYetSupported.push(path); };
  const keyType: KeyType = data.key_type ?? ((data.supportlonglong ?? D.SUPPORT_LONG_LONG) ? 'int64' : 'uint32');
  flag('fuse_embedding_table', data.fuse_embedding_table === true);
  const models = data.models.map((m, i) => convertModel(m, `models[${i}]`, keyType, baseDir, flag));
  return {
    baseDir,
    sourceFile,
    keyType,
    models,
    volatileDb: convertVolatile(data.volatile_db, flag),
    persistentDb: convertPersistent(data.persistent_db, baseDir, flag),
    updateSource: convertUpdateSource(data.update_source, flag),
    workerThreads: data.worker_threads ?? D.workerThreadsDefault(),
    notYetSupported,
  };
}

type Flag = (path: string, given: boolean) => void;

function convertModel(m: PsJsonModel, at: string, keyType: KeyType, baseDir: string, flag: Flag): ModelConfig {
  const has = (key: keyof PsJsonModel) => m[key] !== undefined;
  flag(`${at}.dense_file`, has('dense_file') && m.dense_file !== '');
  flag(`${at}.network_file`, has('network_file') && m.network_file !== '');
  for (const key of ['maxnum_des_feature_per_sample', 'num_of_worker_buffer_in_pool', 'num_of_refresher_buffer_in_pool',
    'thread_pool_size', 'use_context_stream', 'label_dim', 'slot_num'] as const) {
    flag(`${at}.${key}`, has(key));
  }
  flag(`${at}.use_static_table`, m.use_static_table === true);
  flag(`${at}.embedding_cache_type`, has('embedding_cache_type') && m.embedding_cache_type !== 'dynamic');
  return {
    name: m.model,
    tables: m.embedding_vecsize_per_table.map((dim, t) => ({
      name: m.embedding_table_names?.[t] ?? D.defaultTableName(t),
      dim,
      keyType,
      defaultValue: m.default_value_for_each_table?.[t] ?? D.DEFAULT_VALUE,
      maxQueryPerSample: m.maxnum_catfeature_query_per_table_per_sample?.[t] ?? D.MAX_QUERY_PER_SAMPLE,
      sparseFile: m.sparse_files?.[t] === undefined ? null : resolve(baseDir, m.sparse_files[t]),
    })),
    l1Enabled: m.gpucache ?? D.GPU_CACHE,
    l1CacheFraction: m.gpucacheper ?? D.GPU_CACHE_FRACTION,
    l1Policy: m.l1_policy ?? D.L1_POLICY,
    l1Backend: m.l1_backend ?? D.L1_BACKEND,
    hitRateThreshold: m.hit_rate_threshold ?? D.HIT_RATE_THRESHOLD,
    approximateOnHighHitRate: m.approximate_on_high_hit_rate ?? D.APPROXIMATE_ON_HIGH_HIT_RATE,
    deployedDevices: [...(m.deployed_device_list ?? D.DEPLOYED_DEVICES)],
    deviceMode: m.device_mode ?? D.DEVICE_MODE,
    maxBatchSize: m.max_batch_size ?? D.MODEL_MAX_BATCH_SIZE,
    cacheRefreshFraction: m.cache_refresh_percentage_per_iteration ?? D.CACHE_REFRESH_FRACTION,
    refreshDelaySec: m.refresh_delay ?? D.REFRESH_DELAY_SEC,
    refreshIntervalSec: m.refresh_interval ?? D.REFRESH_INTERVAL_SEC,
  };
}

function convertVolatile(v: PsJson['volatile_db'], flag: Flag): VolatileDbConfig {
  // HPS: no volatile_db block -> the struct default (parallel_hash_map); a block without `type` -> disabled.
  const type = v === undefined ? 'parallel_hash_map' : v.type === undefined ? 'disabled' : canonical(VOLATILE_TYPES, v.type);
  const given: NonNullable<typeof v> = v ?? {};
  flag('volatile_db.type', type === 'multi_process_hash_map');
  for (const key of ['algorithm', 'shared_memory_size', 'shared_memory_name', 'shared_memory_auto_remove'] as const) {
    flag(`volatile_db.${key}`, given[key] !== undefined);
  }
  // The Redis keys act only on a redis_cluster tier.
  const redis = type === 'redis_cluster';
  for (const key of ['num_node_connections', 'tls_ca_certificate', 'tls_client_certificate', 'tls_client_key', 'tls_server_name_identification'] as const) {
    flag(`volatile_db.${key}`, !redis && given[key] !== undefined);
  }
  flag('volatile_db.enable_tls', !redis && given.enable_tls === true);
  flag('volatile_db.refresh_time_after_fetch', !redis && given.refresh_time_after_fetch === true);
  flag('volatile_db.near_cache', !redis && given.near_cache === true);
  flag('volatile_db.initialize_after_startup', given.initialize_after_startup === false);
  flag('volatile_db.update_filters', given.update_filters !== undefined && !matchesAll(given.update_filters));
  // Before 2023 HPS split max_batch_size into max_get/max_set_batch_size: the smaller one bounds both here.
  const legacy = [given.max_get_batch_size, given.max_set_batch_size].filter((x): x is number => x !== undefined);
  const maxBatchSize = given.max_batch_size ?? (legacy.length > 0 ? Math.min(...legacy) : D.VOLATILE_MAX_BATCH_SIZE);
  return {
    // The host arena serves the multi-process type inside one process (flagged above).
    type: type === 'multi_process_hash_map' ? 'parallel_hash_map' : type,
    numPartitions: given.num_partitions ?? D.numPartitionsDefault(),
    allocationRate: given.allocation_rate ?? D.ALLOCATION_RATE,
    overflowMargin: Math.min(given.overflow_margin ?? D.OVERFLOW_MARGIN, D.OVERFLOW_MARGIN),
    overflowPolicy: (given.overflow_policy === undefined ? D.OVERFLOW_POLICY : canonical(OVERFLOW_POLICIES, given.overflow_policy)) as OverflowPolicy,
    overflowResolutionTarget: given.overflow_resolution_target ?? D.OVERFLOW_RESOLUTION_TARGET,
    initialCacheRate: given.initial_cache_rate ?? D.INITIAL_CACHE_RATE,
    cacheMissedEmbeddings: given.cache_missed_embeddings ?? D.CACHE_MISSED_EMBEDDINGS,
    maxBatchSize,
    maxGetBatchSize: given.max_get_batch_size ?? maxBatchSize,
    maxSetBatchSize: given.max_set_batch_size ?? maxBatchSize,
    addresses: parseAddresses(given.address ?? D.REDIS_ADDRESS, D.REDIS_PORT, 'volatile_db.address', []),
    userName: given.user_name ?? D.REDIS_USER,
    password: given.password === undefined || given.password === '' ? null : given.password,
    numNodeConnections: given.num_node_connections ?? D.REDIS_NODE_CONNECTIONS,
    tls: given.enable_tls === true ? {
      caCertificate: given.tls_ca_certificate ?? D.TLS_CA_CERTIFICATE,
      clientCertificate: given.tls_client_certificate ?? D.TLS_CLIENT_CERTIFICATE,
      clientKey: given.tls_client_key ?? D.TLS_CLIENT_KEY,
      serverName: given.tls_server_name_identification ?? D.TLS_SERVER_NAME,
    } : null,
    refreshTimeAfterFetch: given.refresh_time_after_fetch ?? D.REFRESH_TIME_AFTER_FETCH,
    nearCache: given.near_cache ?? D.NEAR_CACHE,
  };
}

function convertPersistent(p: PsJson['persistent_db'], baseDir: string, flag: Flag): PersistentDbConfig {
  const given: NonNullable<typeof p> = p ?? {};
  const type = given.type === undefined ? 'disabled' : canonical(PERSISTENT_TYPES, given.type);
  flag('persistent_db.num_threads', given.num_threads !== undefined);
  flag('persistent_db.initialize_after_startup', given.initialize_after_startup === false);
  flag('persistent_db.update_filters', given.update_filters !== undefined && !matchesAll(given.update_filters));
  const batch = given.max_batch_size ?? D.PERSISTENT_MAX_BATCH_SIZE;
  return {
    // rocks_db configs are served by LMDB.
    type: type === 'disabled' ? 'disabled' : 'lmdb',
    path: resolve(baseDir, given.path ?? D.persistentPathDefault()),
    readOnly: given.read_only ?? D.READ_ONLY,
    maxGetBatchSize: given.max_get_batch_size ?? batch,
    maxSetBatchSize: given.max_set_batch_size ?? batch,
  };
}

function convertUpdateSource(u: PsJson['update_source'], flag: Flag): UpdateSourceConfig | null {
  const given: NonNullable<typeof u> = u ?? {};
  const type = given.type === undefined ? 'null' : canonical(UPDATE_SOURCE_TYPES, given.type);
  flag('update_source.type', type === 'kafka_message_queue');
  // Kafka consumer settings; and `group`: every serving process must read every message, which a consumer group would split.
  for (const key of ['metadata_refresh_interval_ms', 'receive_buffer_size', 'failure_backoff_ms', 'max_commit_interval', 'group'] as const) {
    flag(`update_source.${key}`, given[key] !== undefined);
  }
  if (type !== 'redis_stream') return null;
  return {
    type,
    addresses: parseAddresses(given.brokers ?? D.STREAM_ADDRESS, D.REDIS_PORT, 'update_source.brokers', []),
    streamPrefix: given.stream_prefix ?? D.STREAM_PREFIX,
    group: given.group ?? D.STREAM_GROUP,
    maxBatchSize: given.max_batch_size ?? D.UPDATE_MAX_BATCH_SIZE,
    pollTimeoutMs: given.poll_timeout_ms ?? D.UPDATE_POLL_TIMEOUT_MS,
  };
}
