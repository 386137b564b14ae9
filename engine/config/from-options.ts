import { resolve } from 'node:path';
import { parseAddresses } from './addresses.js';
import { checkLocalPath, checkModelName, checkUnique, isObject } from './checks.js';
import { listedFields } from './coverage.js';
import * as D from './defaults.js';
import type { HpsOptions, ModelOptions, PersistentDbOptions, UpdateSourceOptions, VolatileDbOptions } from './options.js';
import { optionsSchema } from './options-schema.js';
import { fromZod, throwProblems, type Problem } from './problems.js';
import type { KeyType } from '../keys.js';
import type { ModelConfig, PersistentDbConfig, ResolvedConfig, UpdateSourceConfig, VolatileDbConfig } from './types.js';

/**
 * Validates typed options and resolves them with the defaults HPS would have applied. Unlike a ps.json,
 * typed options are always strict: an unknown option is an error (TypeScript already rejects it).
 */
export function resolveOptions(raw: unknown, baseDir: string, sourceFile: string | null, source: string): ResolvedConfig {
  const parsed = optionsSchema.safeParse(raw, { reportInput: true });
  const problems = parsed.success ? [] : fromZod(parsed.error.issues, optionsSchema);
  crossCheck(raw, problems);
  if (problems.length > 0 || !parsed.success) throwProblems(source, problems);
  const options: HpsOptions = parsed.data;
  const base = resolve(baseDir, options.baseDir ?? '.');
  const keyType = options.keyType ?? (D.SUPPORT_LONG_LONG ? 'int64' : 'uint32');
  const resolved: ResolvedConfig = {
    baseDir: base,
    sourceFile,
    keyType,
    models: options.models.map((m) => convertModel(m, keyType, base)),
    volatileDb: convertVolatile(options.volatileDb ?? {}),
    persistentDb: convertPersistent(options.persistentDb, base),
    updateSource: convertUpdateSource(options.updateSource),
    workerThreads: options.workerThreads ?? D.workerThreadsDefault(),
    notYetSupported: [],
    warnings: [],
  };
  resolved.notYetSupported = listedFields(resolved, 'options').sort();
  return resolved;
}

function crossCheck(raw: unknown, problems: Problem[]): void {
  if (!isObject(raw)) return;
  const models = Array.isArray(raw.models) ? raw.models : [];
  checkUnique(models.map((m, i) => ({ value: isObject(m) ? m.name : undefined, path: `models[${i}].name` })), 'model name', problems);
  models.forEach((m, i) => {
    if (!isObject(m)) return;
    checkModelName(m.name, `models[${i}].name`, problems);
    const tables = Array.isArray(m.tables) ? m.tables : [];
    checkUnique(tables.map((t, j) => ({ value: isObject(t) ? t.name : undefined, path: `models[${i}].tables[${j}].name` })), 'table name', problems);
    tables.forEach((t, j) => { if (isObject(t)) checkLocalPath(t.sparseFile, `models[${i}].tables[${j}].sparseFile`, problems); });
    if (Array.isArray(m.deployedDevices)) {
      checkUnique(m.deployedDevices.map((value, j) => ({ value, path: `models[${i}].deployedDevices[${j}]` })), 'device', problems);
    }
  });
  for (const [block, port] of [['volatileDb', D.REDIS_PORT], ['updateSource', D.REDIS_PORT]] as const) {
    const b = raw[block];
    if (!isObject(b)) continue;
    const list = typeof b.addresses === 'string' ? [b.addresses] : Array.isArray(b.addresses) ? b.addresses : [];
    list.forEach((a, i) => { if (typeof a === 'string') parseAddresses(a, port, `${block}.addresses${Array.isArray(b.addresses) ? `[${i}]` : ''}`, problems); });
  }
}

const addressList = (given: string | string[] | undefined, fallback: string): string[] =>
  (given === undefined ? [fallback] : typeof given === 'string' ? [given] : given).flatMap((a) => parseAddresses(a, D.REDIS_PORT, '', []));

function convertModel(m: ModelOptions, keyType: KeyType, baseDir: string): ModelConfig {
  return {
    name: m.name,
    tables: m.tables.map((t) => ({
      name: t.name,
      dim: t.dim,
      keyType,
      defaultValue: t.defaultValue ?? D.DEFAULT_VALUE,
      maxQueryPerSample: t.maxQueryPerSample ?? D.MAX_QUERY_PER_SAMPLE,
      sparseFile: t.sparseFile == null ? null : resolve(baseDir, t.sparseFile),
    })),
    l1Enabled: m.l1Enabled ?? D.GPU_CACHE,
    l1CacheFraction: m.l1CacheFraction ?? D.GPU_CACHE_FRACTION,
    l1Policy: m.l1Policy ?? D.L1_POLICY,
    l1Backend: m.l1Backend ?? D.L1_BACKEND,
    hitRateThreshold: m.hitRateThreshold ?? D.HIT_RATE_THRESHOLD,
    approximateOnHighHitRate: m.approximateOnHighHitRate ?? D.APPROXIMATE_ON_HIGH_HIT_RATE,
    deployedDevices: [...(m.deployedDevices ?? D.DEPLOYED_DEVICES)],
    deviceMode: m.deviceMode ?? D.DEVICE_MODE,
    maxBatchSize: m.maxBatchSize ?? D.MODEL_MAX_BATCH_SIZE,
    cacheRefreshFraction: m.cacheRefreshFraction ?? D.CACHE_REFRESH_FRACTION,
    refreshDelaySec: m.refreshDelaySec ?? D.REFRESH_DELAY_SEC,
    refreshIntervalSec: m.refreshIntervalSec ?? D.REFRESH_INTERVAL_SEC,
  };
}

function convertVolatile(v: VolatileDbOptions): VolatileDbConfig {
  return {
    type: v.type ?? 'parallel_hash_map',
    numPartitions: v.numPartitions ?? D.numPartitionsDefault(),
    allocationRate: v.allocationRate ?? D.ALLOCATION_RATE,
    overflowMargin: Math.min(v.overflowMargin ?? D.OVERFLOW_MARGIN, D.OVERFLOW_MARGIN),
    overflowPolicy: v.overflowPolicy ?? D.OVERFLOW_POLICY,
    overflowResolutionTarget: v.overflowResolutionTarget ?? D.OVERFLOW_RESOLUTION_TARGET,
    initialCacheRate: v.initialCacheRate ?? D.INITIAL_CACHE_RATE,
    cacheMissedEmbeddings: v.cacheMissedEmbeddings ?? D.CACHE_MISSED_EMBEDDINGS,
    maxBatchSize: v.maxBatchSize ?? D.VOLATILE_MAX_BATCH_SIZE,
    maxGetBatchSize: v.maxGetBatchSize ?? v.maxBatchSize ?? D.VOLATILE_MAX_BATCH_SIZE,
    maxSetBatchSize: v.maxSetBatchSize ?? v.maxBatchSize ?? D.VOLATILE_MAX_BATCH_SIZE,
    addresses: addressList(v.addresses, D.REDIS_ADDRESS),
    userName: v.userName === undefined ? D.REDIS_USER : v.userName,
    password: v.password === undefined || v.password === '' ? null : v.password,
    numNodeConnections: v.numNodeConnections ?? D.REDIS_NODE_CONNECTIONS,
    enableTls: v.enableTls ?? D.ENABLE_TLS,
    tlsCaCertificate: v.tlsCaCertificate ?? D.TLS_CA_CERTIFICATE,
    tlsClientCertificate: v.tlsClientCertificate ?? D.TLS_CLIENT_CERTIFICATE,
    tlsClientKey: v.tlsClientKey ?? D.TLS_CLIENT_KEY,
    tlsServerName: v.tlsServerName ?? D.TLS_SERVER_NAME,
    refreshTimeAfterFetch: v.refreshTimeAfterFetch ?? D.REFRESH_TIME_AFTER_FETCH,
    nearCache: v.nearCache ?? D.NEAR_CACHE,
  };
}

function convertPersistent(p: PersistentDbOptions | undefined, baseDir: string): PersistentDbConfig {
  return {
    type: p === undefined ? 'disabled' : p.type ?? 'lmdb',
    path: resolve(baseDir, p?.path ?? D.persistentPathDefault()),
    readOnly: p?.readOnly ?? D.READ_ONLY,
    maxGetBatchSize: p?.maxGetBatchSize ?? D.PERSISTENT_MAX_BATCH_SIZE,
    maxSetBatchSize: p?.maxSetBatchSize ?? D.PERSISTENT_MAX_BATCH_SIZE,
  };
}

function convertUpdateSource(u: UpdateSourceOptions | null | undefined): UpdateSourceConfig | null {
  if (u == null) return null;
  return {
    type: u.type,
    addresses: addressList(u.addresses, D.STREAM_ADDRESS),
    streamPrefix: u.streamPrefix ?? D.STREAM_PREFIX,
    group: u.group ?? D.STREAM_GROUP,
    maxBatchSize: u.maxBatchSize ?? D.UPDATE_MAX_BATCH_SIZE,
    pollTimeoutMs: u.pollTimeoutMs ?? D.UPDATE_POLL_TIMEOUT_MS,
  };
}
