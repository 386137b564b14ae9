import { resolve } from 'node:path';
import type { KeyType } from '../keys.js';
import { parseAddresses } from './addresses.js';
import {
  checkLocalPath, checkModelName, checkPerTable, checkRegexes, checkUnique, isObject,
} from './checks.js';
import { listedFields } from './coverage.js';
import * as D from './defaults.js';
import { tablesFromNetworkFile } from './network-file.js';
import { fromZod, throwProblems, type Problem } from './problems.js';
import { unusedPsJsonKeys } from './ps-json-unused.js';
import {
  canonical, LEGACY_KEY_HINTS, OVERFLOW_POLICIES, PERSISTENT_TYPES, psJsonSchema, UPDATE_SOURCE_TYPES, VOLATILE_TYPES,
  type PsJson, type PsJsonModel,
} from './ps-json-schema.js';
import type {
  ModelConfig, OverflowPolicy, PersistentDbConfig, ResolvedConfig, UpdateSourceConfig, VolatileDbConfig,
} from './types.js';
import { withoutUnknownKeys } from './unknown-keys.js';

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
 * file, or "a ps.json object"); relative paths resolve against `baseDir`. Keys HPS did not know are
 * ignored with a warning (in `warnings`), as HPS ignored them; with `strict` they are errors.
 */
export function resolvePsJson(given: unknown, baseDir: string, sourceFile: string | null, source: string, strict: boolean): ResolvedConfig {
  const problems: Problem[] = [];
  const { value: raw, unknown } = withoutUnknownKeys(withNetworkTables(given, baseDir, problems), psJsonSchema, LEGACY_KEY_HINTS);
  if (strict) problems.push(...unknown);
  const parsed = psJsonSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) problems.push(...fromZod(parsed.error.issues, psJsonSchema, LEGACY_KEY_HINTS));
  crossCheck(raw, problems);
  if (problems.length > 0 || !parsed.success) throwProblems(source, problems);
  const warnings = unknown.map((p) => `${source}: ${p.path}: ${p.message.replace(/^unknown key/, 'unknown key, ignored (as HPS ignored it)')}`);
  return convert(parsed.data, baseDir, sourceFile, warnings);
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
    // HPS pads a short default_value_for_each_table with 0 and ignores extra entries; so does convertModel.
    for (const key of ['embedding_table_names', 'maxnum_catfeature_query_per_table_per_sample'] as const) {
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

function convert(data: PsJson, baseDir: string, sourceFile: string | null, warnings: string[]): ResolvedConfig {
  const keyType: KeyType = data.key_type ?? ((data.supportlonglong ?? D.SUPPORT_LONG_LONG) ? 'int64' : 'uint32');
  const resolved: ResolvedConfig = {
    baseDir,
    sourceFile,
    keyType,
    models: data.models.map((m) => convertModel(m, keyType, baseDir)),
    volatileDb: convertVolatile(data.volatile_db),
    persistentDb: convertPersistent(data.persistent_db, baseDir),
    updateSource: convertUpdateSource(data.update_source),
    workerThreads: data.worker_threads ?? D.workerThreadsDefault(),
    notYetSupported: [],
    warnings,
  };
  resolved.notYetSupported = [...new Set([...unusedPsJsonKeys(data), ...listedFields(resolved, 'psJson')])].sort();
  return resolved;
}

function convertModel(m: PsJsonModel, keyType: KeyType, baseDir: string): ModelConfig {
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

function convertVolatile(v: PsJson['volatile_db']): VolatileDbConfig {
  // HPS: no volatile_db block -> the struct default (parallel_hash_map); a block without `type` -> disabled.
  const type = v === undefined ? 'parallel_hash_map' : v.type === undefined ? 'disabled' : canonical(VOLATILE_TYPES, v.type);
  const given: NonNullable<typeof v> = v ?? {};
  return {
    // The host arena serves the multi-process type inside one process (listed by ps-json-unused.ts).
    type: type === 'multi_process_hash_map' ? 'parallel_hash_map' : type,
    numPartitions: given.num_partitions ?? D.numPartitionsDefault(),
    allocationRate: given.allocation_rate ?? D.ALLOCATION_RATE,
    overflowMargin: Math.min(given.overflow_margin ?? D.OVERFLOW_MARGIN, D.OVERFLOW_MARGIN),
    overflowPolicy: (given.overflow_policy === undefined ? D.OVERFLOW_POLICY : canonical(OVERFLOW_POLICIES, given.overflow_policy)) as OverflowPolicy,
    overflowResolutionTarget: given.overflow_resolution_target ?? D.OVERFLOW_RESOLUTION_TARGET,
    initialCacheRate: given.initial_cache_rate ?? D.INITIAL_CACHE_RATE,
    cacheMissedEmbeddings: given.cache_missed_embeddings ?? D.CACHE_MISSED_EMBEDDINGS,
    maxBatchSize: given.max_batch_size ?? D.VOLATILE_MAX_BATCH_SIZE,
    // HPS before 2023 split max_batch_size into these two; here they size Redis reads and writes.
    maxGetBatchSize: given.max_get_batch_size ?? given.max_batch_size ?? D.VOLATILE_MAX_BATCH_SIZE,
    maxSetBatchSize: given.max_set_batch_size ?? given.max_batch_size ?? D.VOLATILE_MAX_BATCH_SIZE,
    addresses: parseAddresses(given.address ?? D.REDIS_ADDRESS, D.REDIS_PORT, 'volatile_db.address', []),
    userName: given.user_name ?? D.REDIS_USER,
    password: given.password === undefined || given.password === '' ? null : given.password,
    numNodeConnections: given.num_node_connections ?? D.REDIS_NODE_CONNECTIONS,
    enableTls: given.enable_tls ?? D.ENABLE_TLS,
    tlsCaCertificate: given.tls_ca_certificate ?? D.TLS_CA_CERTIFICATE,
    tlsClientCertificate: given.tls_client_certificate ?? D.TLS_CLIENT_CERTIFICATE,
    tlsClientKey: given.tls_client_key ?? D.TLS_CLIENT_KEY,
    tlsServerName: given.tls_server_name_identification ?? D.TLS_SERVER_NAME,
    refreshTimeAfterFetch: given.refresh_time_after_fetch ?? D.REFRESH_TIME_AFTER_FETCH,
    nearCache: given.near_cache ?? D.NEAR_CACHE,
  };
}

function convertPersistent(p: PsJson['persistent_db'], baseDir: string): PersistentDbConfig {
  const given: NonNullable<typeof p> = p ?? {};
  const type = given.type === undefined ? 'disabled' : canonical(PERSISTENT_TYPES, given.type);
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

function convertUpdateSource(u: PsJson['update_source']): UpdateSourceConfig | null {
  const given: NonNullable<typeof u> = u ?? {};
  const type = given.type === undefined ? 'null' : canonical(UPDATE_SOURCE_TYPES, given.type);
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
