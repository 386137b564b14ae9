import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, resolveConfig, type HpsOptions, type ResolvedConfig } from '../engine/config/index.js';
import { HpsError } from '../engine/errors.js';
import { rng } from './helpers/random.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/config/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'hps-config-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

// HPS's defaults, written out here independently of engine/config/defaults.ts.
const CORES = availableParallelism();
const HPS = {
  maxBatchSize: 64, gpucache: true, gpucacheper: 0.2, hitRate: 0.9, maxQuery: 26, defaultValue: 0,
  partitions: Math.min(16, CORES), allocationRate: 268435456, volatileBatch: 65536,
  overflowMargin: Number.MAX_SAFE_INTEGER, overflowPolicy: 'evict_random', overflowTarget: 0.8,
  persistentBatch: 65536, updateBatch: 8192, pollMs: 500,
};
const WORKERS = Math.max(0, Math.min(8, CORES - 1));

/** Runs `fn`, which must throw a BAD_CONFIG HpsError, and returns its message. */
async function badConfig(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, HpsError);
    assert.is((err as HpsError).code, 'BAD_CONFIG', (err as Error).message);
    return (err as Error).message;
  }
  throw new Error('expected a BAD_CONFIG error, nothing was thrown');
}

function includesAll(message: string, parts: string[]): void {
  for (const p of parts) assert.ok(message.includes(p), `message lacks ${JSON.stringify(p)}:\n${message}`);
}

function writeTemp(name: string, content: unknown): string {
  const file = join(tmp, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

test('an HPS ps.json modelled on the HPS docs loads with its values, HPS defaults and the not-yet-supported keys', async () => {
  const file = join(fixtures, 'hps-full.ps.json');
  const c = await loadConfig(file);
  assert.is(c.sourceFile, file);
  assert.is(c.baseDir, fixtures.replace(/\/$/, ''));
  assert.is(c.keyType, 'int64');
  assert.equal(c.models.map((m) => m.name), ['wdl', 'dcn']);
  const [wdl, dcn] = c.models;
  assert.equal(wdl.tables, [
    { name: 'table1', dim: 1, keyType: 'int64', defaultValue: 0, maxQueryPerSample: 2, sparseFile: join(fixtures, 'wdl/1/wdl0_sparse_20000.model') },
    { name: 'table2', dim: 15, keyType: 'int64', defaultValue: 0.5, maxQueryPerSample: 26, sparseFile: join(fixtures, 'wdl/1/wdl1_sparse_20000.model') },
  ]);
  assert.equal(
    { ...wdl, tables: undefined },
    { name: 'wdl', tables: undefined, l1Enabled: true, l1CacheFraction: 0.1, l1Policy: 'lru', l1Backend: 'auto', hitRateThreshold: 0.9,
      approximateOnHighHitRate: false, deployedDevices: [0], deviceMode: 'replicated', maxBatchSize: 64, cacheRefreshFraction: 0.2,
      refreshDelaySec: 0, refreshIntervalSec: 0 },
  );
  assert.is(dcn.tables[0].sparseFile, '/models/dcn/1/0_sparse_file.model');
  assert.is(dcn.tables[0].defaultValue, 0.25);
  assert.is(dcn.l1Enabled, false);
  assert.is(dcn.hitRateThreshold, 1.1, 'above 1 is HPS for "always insert synchronously"');
  assert.equal(dcn.deployedDevices, [0, 1]);
  assert.is(dcn.refreshIntervalSec, 0);
  assert.equal(c.volatileDb, {
    type: 'redis_cluster', numPartitions: 8, allocationRate: 268435456, overflowMargin: 10000000, overflowPolicy: 'evict_random',
    overflowResolutionTarget: 0.8, initialCacheRate: 1, cacheMissedEmbeddings: false, maxBatchSize: 65536,
    addresses: ['127.0.0.1:7003', '127.0.0.1:7004', '127.0.0.1:7005'], userName: 'default', password: null,
    maxGetBatchSize: 65536, maxSetBatchSize: 65536, numNodeConnections: 5, enableTls: false, tlsCaCertificate: 'cacertbundle.crt', tlsClientCertificate: 'client_cert.pem', tlsClientKey: 'client_key.pem', tlsServerName: 'redis.localhost', refreshTimeAfterFetch: false, nearCache: false,
  });
  assert.equal(c.persistentDb, { type: 'lmdb', path: join(fixtures, 'store'), readOnly: false, maxGetBatchSize: 65536, maxSetBatchSize: 65536 });
  assert.is(c.updateSource, null, 'kafka is accepted, not served');
  assert.equal(c.notYetSupported.slice().sort(), [
    'models[0].dense_file', 'models[0].label_dim', 'models[0].maxnum_des_feature_per_sample', 'models[0].network_file',
    'models[0].num_of_refresher_buffer_in_pool', 'models[0].num_of_worker_buffer_in_pool', 'models[0].slot_num',
    'models[0].use_context_stream', 'update_source.failure_backoff_ms', 'update_source.max_commit_interval',
    'update_source.metadata_refresh_interval_ms', 'update_source.receive_buffer_size', 'update_source.type',
    'volatile_db.shared_memory_auto_remove', 'volatile_db.shared_memory_name', 'volatile_db.shared_memory_size',
    'persistent_db.num_threads',
  ].sort());
  assert.is(c.workerThreads, WORKERS);
});

test('a minimal HPS ps.json gets every HPS default', async () => {
  const c = await loadConfig(join(fixtures, 'hps-minimal.ps.json'));
  assert.is(c.keyType, 'uint32', 'supportlonglong: false');
  const m = c.models[0];
  assert.equal(m.tables, [{ name: 'sparse_embedding0', dim: 128, keyType: 'uint32', defaultValue: 0.75, maxQueryPerSample: 26, sparseFile: join(fixtures, 'criteo_sparse.model') }]);
  assert.is(m.maxBatchSize, HPS.maxBatchSize);
  assert.is(m.l1Enabled, HPS.gpucache);
  assert.is(m.l1CacheFraction, HPS.gpucacheper);
  assert.is(m.hitRateThreshold, HPS.hitRate);
  assert.is(m.cacheRefreshFraction, 0);
  assert.is(m.refreshDelaySec, 0);
  assert.is(m.refreshIntervalSec, 0);
  assert.equal(c.volatileDb, {
    type: 'parallel_hash_map', numPartitions: HPS.partitions, allocationRate: HPS.allocationRate, overflowMargin: HPS.overflowMargin,
    overflowPolicy: HPS.overflowPolicy, overflowResolutionTarget: HPS.overflowTarget, initialCacheRate: 1, cacheMissedEmbeddings: false,
    maxBatchSize: HPS.volatileBatch, addresses: ['127.0.0.1:7000'], userName: 'default', password: null,
    maxGetBatchSize: HPS.volatileBatch, maxSetBatchSize: HPS.volatileBatch, numNodeConnections: 5, enableTls: false, tlsCaCertificate: 'cacertbundle.crt', tlsClientCertificate: 'client_cert.pem', tlsClientKey: 'client_key.pem', tlsServerName: 'redis.localhost', refreshTimeAfterFetch: false, nearCache: false,
  });
  assert.is(c.persistentDb.type, 'disabled', 'HPS: no persistent_db block -> disabled');
  assert.is(c.persistentDb.path, join(tmpdir(), 'hps-lmdb'));
  assert.is(c.updateSource, null);
  assert.equal(c.notYetSupported, []);
});

test('our extensions in a ps.json (lmdb, redis_stream, l1 policy/backend, sharding, worker threads) and HPS aliases', async () => {
  const c = await loadConfig(join(fixtures, 'extensions.ps.json'));
  assert.is(c.workerThreads, 3);
  const m = c.models[0];
  assert.equal([m.l1Policy, m.l1Backend, m.approximateOnHighHitRate, m.deviceMode], ['lfu', 'wasm', true, 'sharded']);
  assert.equal(m.tables.map((t) => [t.name, t.dim, t.defaultValue, t.maxQueryPerSample]), [['user', 64, -1, 1], ['item', 32, 1, 50]]);
  assert.is(c.volatileDb.overflowPolicy, 'evict_least_used', 'HPS alias "least_used"');
  assert.equal([c.volatileDb.numPartitions, c.volatileDb.allocationRate, c.volatileDb.overflowMargin, c.volatileDb.overflowResolutionTarget,
    c.volatileDb.initialCacheRate, c.volatileDb.cacheMissedEmbeddings], [4, 16777216, 1000000, 0.5, 0.25, true]);
  assert.equal(c.persistentDb, { type: 'lmdb', path: '/var/lib/hps', readOnly: true, maxGetBatchSize: 4096, maxSetBatchSize: 1024 });
  assert.equal(c.updateSource, { type: 'redis_stream', addresses: ['redis-a:6380', 'redis-b:6379'], streamPrefix: 'emb_', group: 'ranker-serving', maxBatchSize: 1000, pollTimeoutMs: 100 });
  assert.equal(c.notYetSupported, [
    'persistent_db.max_get_batch_size', 'persistent_db.max_set_batch_size', 'update_source.group',
  ], 'resolved but not read by the engine yet (group: every serving process reads every message)');
});

test('a HugeCTR 3.1 ps.json without embedding_vecsize_per_table reads its tables from network_file, as HPS did', async () => {
  const dir = join(fixtures, 'hugectr-3.1');
  const c = await loadConfig(join(dir, 'ps.json'));
  assert.is(c.keyType, 'uint32');
  assert.equal(c.models[0].tables, [
    { name: 'sparse_embedding1', dim: 16, keyType: 'uint32', defaultValue: 0, maxQueryPerSample: 30, sparseFile: join(dir, 'dcn/1/0_sparse_10000.model') },
  ]);
  assert.equal(c.models[1].tables, [
    { name: 'sparse_embedding1', dim: 11, keyType: 'uint32', defaultValue: 0.125, maxQueryPerSample: 52, sparseFile: join(dir, 'deepfm/1/0_sparse_10000.model') },
    { name: 'sparse_embedding2', dim: 1, keyType: 'uint32', defaultValue: 0.25, maxQueryPerSample: 7, sparseFile: join(dir, 'deepfm/1/1_sparse_10000.model') },
  ], 'the ps.json default values win over the graph\'s; layers after the first other layer are not tables');
  assert.equal(c.notYetSupported, [
    'models[0].dense_file', 'models[0].network_file',
    'models[1].dense_file', 'models[1].network_file',
  ]);
  const graph = writeTemp('graph.json', { layers: [{ type: 'Data', sparse: [{ slot_num: 2, nnz_per_slot: 1 }] }, { type: 'DistributedSlotSparseEmbeddingHash', top: 'e', sparse_embedding_hparam: { embedding_vec_size: 0 } }] });
  const msg = await badConfig(() => resolveConfig({ models: [
    { model: 'a', network_file: 'missing.json' },
    { model: 'b', network_file: 'graph.json' },
    { model: 'c', network_file: 'graph.json', sparse_files: ['x', 'y'], embedding_vecsize_per_table: [4] },
  ] }, tmp));
  includesAll(msg, [
    `models[0].network_file: cannot read network file ${join(tmp, 'missing.json')}: no such file (needed for the tables: the model has no embedding_vecsize_per_table)`,
    `models[1].network_file: ${graph}: layers[1].sparse_embedding_hparam.embedding_vec_size: expected an integer in [1, 1048576]`,
    'models[2].sparse_files: has 2 entries, expected 1',
  ]);
});

test('HPS quirks kept: a volatile_db block without type is disabled; rocksdb/redis/none spellings; 2^64-1 overflow margin', () => {
  const base = { models: [{ model: 'm', embedding_vecsize_per_table: [8] }] };
  assert.is(resolveConfig({ ...base, volatile_db: { num_partitions: 3 } }).volatileDb.type, 'disabled');
  assert.is(resolveConfig({ ...base, volatile_db: { type: 'redis' } }).volatileDb.type, 'redis_cluster');
  assert.is(resolveConfig({ ...base, volatile_db: { type: 'hashmap' } }).volatileDb.type, 'hash_map');
  assert.is(resolveConfig({ ...base, persistent_db: { type: 'rocksdb' } }).persistentDb.type, 'lmdb');
  assert.is(resolveConfig({ ...base, persistent_db: { type: 'none' } }).persistentDb.type, 'disabled');
  assert.is(resolveConfig({ ...base, volatile_db: { type: 'hash_map', overflow_margin: 18446744073709551615 } }).volatileDb.overflowMargin, Number.MAX_SAFE_INTEGER);
  const legacy = resolveConfig({ ...base, volatile_db: { type: 'hash_map', max_get_batch_size: 10000, max_set_batch_size: 5000 }, persistent_db: { type: 'rocks_db', max_get_batch_size: 10000 } });
  assert.is(legacy.volatileDb.maxBatchSize, 65536, 'HPS 25.03 reads only max_batch_size in volatile_db');
  assert.equal([legacy.persistentDb.maxGetBatchSize, legacy.persistentDb.maxSetBatchSize], [10000, 65536]);
  assert.equal([legacy.volatileDb.maxGetBatchSize, legacy.volatileDb.maxSetBatchSize], [10000, 5000], 'they size Redis reads and writes');
  assert.equal(legacy.notYetSupported, ['persistent_db.max_get_batch_size']);
  const mp = resolveConfig({ ...base, volatile_db: { type: 'multi_process_hash_map', update_filters: ['^hps_wdl$'] }, persistent_db: { type: 'rocks_db', update_filters: ['^hps_.+$'] } });
  assert.is(mp.volatileDb.type, 'parallel_hash_map');
  assert.equal(mp.notYetSupported, ['volatile_db.type', 'volatile_db.update_filters'], 'a filter that is not match-all is listed; HPS\'s default is not');
  const flagged = resolveConfig({ ...base, fuse_embedding_table: true, models: [{ ...base.models[0], use_static_table: true, embedding_cache_type: 'uvm', dense_file: 'd' }] });
  assert.equal(flagged.notYetSupported, ['fuse_embedding_table', 'models[0].dense_file', 'models[0].embedding_cache_type', 'models[0].use_static_table']);
  const quiet = resolveConfig({ ...base, fuse_embedding_table: false, models: [{ ...base.models[0], use_static_table: false, embedding_cache_type: 'dynamic', dense_file: '' }] });
  assert.equal(quiet.notYetSupported, [], 'values that ask for what the engine does anyway are not listed');
});

// --- random configurations: a ps.json and the equivalent typed options resolve to an independently built expectation.


function randomCase(r: () => number, base: string): { ps: Record<string, unknown>; options: HpsOptions; expected: ResolvedConfig } {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const maybe = () => r() < 0.5;
  const frac = () => Math.round(r() * 1000) / 1000 || 0.125;
  const keyType = maybe() ? 'int64' as const : 'uint32' as const;
  const psModels: Record<string, unknown>[] = [];
  const optModels: HpsOptions['models'] = [];
  const expModels: ResolvedConfig['models'] = [];
  const nModels = int(1, 3);
  for (let i = 0; i < nModels; i++) {
    const n = int(1, 4);
    const names = Array.from({ length: n }, (_, t) => `m${i}_t${t}_${int(0, 999)}`);
    const dims = names.map(() => int(1, 512));
    const defaults = names.map(() => (r() - 0.5) * 8 || 0.5);
    const maxQ = names.map(() => int(1, 100));
    const files = names.map((t) => `sparse/${t}`);
    const l1 = { enabled: maybe(), per: frac(), hit: Math.round(r() * 2000) / 1000, batch: int(1, 1 << 16), refresh: frac(), delay: int(0, 60), interval: int(0, 600) };
    const devices = Array.from({ length: int(1, 4) }, (_, d) => d * 2 + int(0, 1));
    const ext = { policy: maybe() ? 'lfu' as const : 'lru' as const, backend: (['auto', 'cuda', 'wasm'] as const)[int(0, 2)], approx: maybe(), mode: maybe() ? 'sharded' as const : 'replicated' as const };
    psModels.push({
      model: `model_${i}`, sparse_files: files, embedding_table_names: names, embedding_vecsize_per_table: dims,
      default_value_for_each_table: defaults, maxnum_catfeature_query_per_table_per_sample: maxQ, gpucache: l1.enabled,
      gpucacheper: l1.per, hit_rate_threshold: l1.hit, deployed_device_list: devices, max_batch_size: l1.batch,
      cache_refresh_percentage_per_iteration: l1.refresh, refresh_delay: l1.delay, refresh_interval: l1.interval,
      l1_policy: ext.policy, l1_backend: ext.backend, approximate_on_high_hit_rate: ext.approx, device_mode: ext.mode,
    });
    optModels.push({
      name: `model_${i}`,
      tables: names.map((name, t) => ({ name, dim: dims[t], defaultValue: defaults[t], maxQueryPerSample: maxQ[t], sparseFile: files[t] })),
      l1Enabled: l1.enabled, l1CacheFraction: l1.per, hitRateThreshold: l1.hit, deployedDevices: devices, maxBatchSize: l1.batch,
      cacheRefreshFraction: l1.refresh, refreshDelaySec: l1.delay, refreshIntervalSec: l1.interval,
      l1Policy: ext.policy, l1Backend: ext.backend, approximateOnHighHitRate: ext.approx, deviceMode: ext.mode,
    });
    expModels.push({
      name: `model_${i}`,
      tables: names.map((name, t) => ({ name, dim: dims[t], keyType, defaultValue: defaults[t], maxQueryPerSample: maxQ[t], sparseFile: join(base, files[t]) })),
      l1Enabled: l1.enabled, l1CacheFraction: l1.per, l1Policy: ext.policy, l1Backend: ext.backend, hitRateThreshold: l1.hit,
      approximateOnHighHitRate: ext.approx, deployedDevices: devices, deviceMode: ext.mode, maxBatchSize: l1.batch,
      cacheRefreshFraction: l1.refresh, refreshDelaySec: l1.delay, refreshIntervalSec: l1.interval,
    });
  }
  const v = { partitions: int(1, 64), rate: int(1, 1 << 30), margin: int(1, 1e9), policy: (['evict_random', 'evict_least_used', 'evict_oldest'] as const)[int(0, 2)],
    target: frac(), initial: frac(), missed: maybe(), batch: int(1, 1e6), port: int(1, 65535), password: `pw${int(0, 1e6)}` };
  const p = { path: `data/${int(0, 1e6)}`, readOnly: maybe(), get: int(1, 1e6), set: int(1, 1e6) };
  const u = { port: int(1, 65535), prefix: `s${int(0, 99)}_`, group: `g${int(0, 99)}`, batch: int(1, 1e5), poll: int(1, 1e4) };
  const workers = int(0, 16);
  const ps = {
    supportlonglong: keyType === 'int64', worker_threads: workers, models: psModels,
    volatile_db: { type: 'redis_cluster', address: `10.0.0.1:${v.port},10.0.0.2`, password: v.password, num_partitions: v.partitions,
      allocation_rate: v.rate, overflow_margin: v.margin, overflow_policy: v.policy, overflow_resolution_target: v.target,
      initial_cache_rate: v.initial, cache_missed_embeddings: v.missed, max_batch_size: v.batch },
    persistent_db: { type: 'lmdb', path: p.path, read_only: p.readOnly, max_get_batch_size: p.get, max_set_batch_size: p.set },
    update_source: { type: 'redis_stream', brokers: `localhost:${u.port}`, stream_prefix: u.prefix, group: u.group, max_batch_size: u.batch, poll_timeout_ms: u.poll },
  };
  const options: HpsOptions = {
    keyType, workerThreads: workers, models: optModels,
    volatileDb: { type: 'redis_cluster', addresses: [`10.0.0.1:${v.port}`, '10.0.0.2'], password: v.password, numPartitions: v.partitions,
      allocationRate: v.rate, overflowMargin: v.margin, overflowPolicy: v.policy, overflowResolutionTarget: v.target,
      initialCacheRate: v.initial, cacheMissedEmbeddings: v.missed, maxBatchSize: v.batch },
    persistentDb: { path: p.path, readOnly: p.readOnly, maxGetBatchSize: p.get, maxSetBatchSize: p.set },
    updateSource: { type: 'redis_stream', addresses: `localhost:${u.port}`, streamPrefix: u.prefix, group: u.group, maxBatchSize: u.batch, pollTimeoutMs: u.poll },
  };
  const expected: ResolvedConfig = {
    baseDir: base, sourceFile: null, keyType, models: expModels,
    volatileDb: { type: 'redis_cluster', numPartitions: v.partitions, allocationRate: v.rate, overflowMargin: v.margin, overflowPolicy: v.policy,
      overflowResolutionTarget: v.target, initialCacheRate: v.initial, cacheMissedEmbeddings: v.missed, maxBatchSize: v.batch,
      addresses: [`10.0.0.1:${v.port}`, '10.0.0.2:6379'], userName: 'default', password: v.password,
      maxGetBatchSize: v.batch, maxSetBatchSize: v.batch, numNodeConnections: 5, enableTls: false, tlsCaCertificate: 'cacertbundle.crt', tlsClientCertificate: 'client_cert.pem', tlsClientKey: 'client_key.pem', tlsServerName: 'redis.localhost', refreshTimeAfterFetch: false, nearCache: false, },
    persistentDb: { type: 'lmdb', path: join(base, p.path), readOnly: p.readOnly, maxGetBatchSize: p.get, maxSetBatchSize: p.set },
    updateSource: { type: 'redis_stream', addresses: [`localhost:${u.port}`], streamPrefix: u.prefix, group: u.group, maxBatchSize: u.batch, pollTimeoutMs: u.poll },
    workerThreads: workers, notYetSupported: [], warnings: [],
  };
  return { ps, options, expected };
}

test('random configurations: ps.json object, ps.json file and typed options all resolve to the reference', async () => {
  const r = rng(0x5eed);
  for (let i = 0; i < 40; i++) {
    const base = join(tmp, `case${i}`);
    const { ps, options, expected } = randomCase(r, base);
    // The same fields are listed by both readers, each under the input's own names.
    const fromPs = resolveConfig(ps, base);
    const fromOptions = resolveConfig(options, base);
    assert.equal(fromPs, { ...expected, notYetSupported: fromPs.notYetSupported }, `ps.json object, case ${i}`);
    assert.equal(fromOptions, { ...expected, notYetSupported: fromOptions.notYetSupported }, `typed options, case ${i}`);
    assert.equal(fromPs.notYetSupported.length > 0, fromOptions.notYetSupported.length > 0);
    assert.equal(resolveConfig({ ...options, baseDir: base }, '/elsewhere'), fromOptions, `typed options with baseDir, case ${i}`);
    if (i % 8 === 0) {
      const file = writeTemp(`random${i}.ps.json`, ps);
      assert.equal(await loadConfig(file), { ...fromPs, baseDir: tmp, sourceFile: file, ...rebase(expected, base, tmp) }, `ps.json file, case ${i}`);
    }
  }
});

/** The parts of a resolved config whose paths depend on the base folder, moved from `from` to `to`. */
function rebase(c: ResolvedConfig, from: string, to: string): Partial<ResolvedConfig> {
  const move = (p: string) => join(to, p.slice(from.length));
  return {
    models: c.models.map((m) => ({ ...m, tables: m.tables.map((t) => ({ ...t, sparseFile: t.sparseFile && move(t.sparseFile) })) })),
    persistentDb: { ...c.persistentDb, path: move(c.persistentDb.path) },
  };
}

test('typed options: only models and tables are required; giving a tier block enables it', () => {
  const c = resolveConfig({ models: [{ name: 'm', tables: [{ name: 't', dim: 7 }] }] }, '/srv');
  assert.equal(c.models[0].tables, [{ name: 't', dim: 7, keyType: 'int64', defaultValue: 0, maxQueryPerSample: 26, sparseFile: null }]);
  assert.is(c.volatileDb.type, 'parallel_hash_map');
  assert.is(c.persistentDb.type, 'disabled');
  assert.is(c.updateSource, null);
  assert.is(c.workerThreads, WORKERS);
  const d = resolveConfig({ models: [{ name: 'm', tables: [{ name: 't', dim: 7 }] }], persistentDb: { path: 'data' }, volatileDb: { numPartitions: 2 } }, '/srv');
  assert.equal(d.persistentDb, { type: 'lmdb', path: '/srv/data', readOnly: false, maxGetBatchSize: 65536, maxSetBatchSize: 65536 });
  assert.is(d.volatileDb.type, 'parallel_hash_map');
});

test('a JSON file of typed options loads as options, paths relative to its folder', async () => {
  const file = writeTemp('options.json', { models: [{ name: 'm', tables: [{ name: 't', dim: 3, sparseFile: 'folder' }] }], persistentDb: { path: 'db' } });
  const c = await loadConfig(file);
  assert.is(c.sourceFile, file);
  assert.is(c.models[0].tables[0].sparseFile, join(tmp, 'folder'));
  assert.is(c.persistentDb.path, join(tmp, 'db'));
});

test('the full ps.json example of docs/configuration.md loads, listing only what the docs say', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
  const block = /## A full ps\.json[\s\S]*?```json\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'docs/configuration.md has a "## A full ps.json" section with a json block');
  const c = resolveConfig(JSON.parse(block[1]), '/models');
  assert.equal(c.notYetSupported, []);
  assert.equal([c.models[0].tables.length, c.volatileDb.type, c.persistentDb.type, c.updateSource], [2, 'parallel_hash_map', 'lmdb', null]);
});

// --- bad input: each gives a BAD_CONFIG HpsError naming the key path, the value and what was expected.

const model = (extra: Record<string, unknown> = {}) => ({ model: 'wdl', embedding_vecsize_per_table: [16, 8], embedding_table_names: ['a', 'b'], ...extra });

test('unknown ps.json keys are ignored with a warning naming the key and the nearest known one, as HPS ignored them; strict makes them errors', async () => {
  const config = {
    supportlonglong: true, support_long_long: true, mixed_precision: false,
    models: [model(), model({ model: 'dcn', gpucacheperc: 0.5 })],
    volatile_db: { type: 'hash_map', overflow_margn: 10 },
    persistent_db: { type: 'rocks_db', pth: '/x' },
  };
  const file = writeTemp('unknown.ps.json', config);
  const lenient = await loadConfig(file);
  assert.equal(lenient.models.map((m) => m.l1CacheFraction), [HPS.gpucacheper, HPS.gpucacheper], 'the misspelt key keeps its default, as in HPS');
  assert.is(lenient.volatileDb.overflowMargin, HPS.overflowMargin);
  assert.equal(lenient.warnings, [
    `config file ${file}: support_long_long: unknown key, ignored (as HPS ignored it); did you mean "supportlonglong"?`,
    `config file ${file}: mixed_precision: unknown key, ignored (as HPS ignored it); expected one of: supportlonglong, fuse_embedding_table, models, volatile_db, persistent_db, update_source, key_type, worker_threads`,
    `config file ${file}: models[1].gpucacheperc: unknown key, ignored (as HPS ignored it); did you mean "gpucacheper"?`,
    `config file ${file}: volatile_db.overflow_margn: unknown key, ignored (as HPS ignored it); did you mean "overflow_margin"?`,
    `config file ${file}: persistent_db.pth: unknown key, ignored (as HPS ignored it); did you mean "path"?`,
  ]);
  const msg = await badConfig(() => loadConfig(file, { strict: true }));
  includesAll(msg, [
    file, '5 problems',
    'support_long_long: unknown key; did you mean "supportlonglong"?',
    'models[1].gpucacheperc: unknown key; did you mean "gpucacheper"?',
    'volatile_db.overflow_margn: unknown key; did you mean "overflow_margin"?',
    'persistent_db.pth: unknown key; did you mean "path"?',
    'mixed_precision: unknown key',
  ]);
  const legacy = resolveConfig({ supportlonglong: false, db_type: 'hierarchy', redis_ip: 'h:7000', models: [model()] });
  includesAll(legacy.warnings.join('\n'), ['db_type: unknown key, ignored (as HPS ignored it); a HugeCTR 3.1-3.3 key; HPS 3.4+ (and this reader) use volatile_db.type and persistent_db.type', 'redis_ip: unknown key, ignored (as HPS ignored it); a HugeCTR 3.1-3.3 key']);
  const far = await badConfig(() => resolveConfig({ models: [model()], volatile_db: { zzzzzzzz: 1 } }, '.', { strict: true }));
  includesAll(far, ['volatile_db.zzzzzzzz: unknown key; expected one of: type, address,', 'overflow_policy']);
  // Typed options are ours, not HPS's: an unknown option is always an error.
  const opt = await badConfig(() => resolveConfig({ models: [{ name: 'm', tables: [{ name: 't', dim: 4, dimension: 4 }] }], workerThread: 2 }));
  includesAll(opt, ['HpsOptions object', 'models[0].tables[0].dimension: unknown key', 'workerThread: unknown key; did you mean "workerThreads"?']);
});

test('HPS 25.03 model keys are accepted; numbers and booleans written as strings are read as the Triton backend read them', () => {
  const c = resolveConfig({ fuse_embedding_table: true, models: [model({
    use_hctr_cache_implementation: true, init_ec: true, enable_pagelock: false, fp8_quant: false, fuse_embedding_table: false,
    num_of_refresher_buffer_in_pool: 0, embedding_cache_type: 'stochastic',
    hit_rate_threshold: '0.75', gpucache: 'true', gpucacheper: ' 0.5 ', max_batch_size: '1024', deployed_device_list: ['1'],
    default_value_for_each_table: ['-1.5e-1', 2],
  })], volatile_db: { type: 'hash_map', num_partitions: '3', cache_missed_embeddings: 'FALSE' } });
  const m = c.models[0];
  assert.equal([m.hitRateThreshold, m.l1Enabled, m.l1CacheFraction, m.maxBatchSize, m.deployedDevices], [0.75, true, 0.5, 1024, [1]]);
  assert.equal(m.tables.map((t) => t.defaultValue), [-0.15, 2]);
  assert.equal([c.volatileDb.numPartitions, c.volatileDb.cacheMissedEmbeddings], [3, false]);
  assert.equal(c.warnings, []);
  assert.equal(c.notYetSupported, [
    'fuse_embedding_table', 'models[0].embedding_cache_type', 'models[0].num_of_refresher_buffer_in_pool',
  ], 'model fusion opted out by the model; the values that ask for what the engine does anyway are not listed');
  const asks = resolveConfig({ fuse_embedding_table: 'true', models: [model({ use_hctr_cache_implementation: false, init_ec: 'false', enable_pagelock: true, fp8_quant: true, fuse_embedding_table: true })] });
  assert.equal(asks.notYetSupported, [
    'fuse_embedding_table', 'models[0].enable_pagelock', 'models[0].fp8_quant', 'models[0].fuse_embedding_table', 'models[0].init_ec',
    'models[0].use_hctr_cache_implementation',
  ]);
});

test('default_value_for_each_table shorter than the tables is padded with 0, longer has its extra entries ignored, as HPS did', () => {
  const short = resolveConfig({ models: [model({ embedding_vecsize_per_table: [4, 4, 4], embedding_table_names: ['a', 'b', 'c'], default_value_for_each_table: [0.5] })] });
  assert.equal(short.models[0].tables.map((t) => t.defaultValue), [0.5, 0, 0]);
  const long = resolveConfig({ models: [model({ default_value_for_each_table: [0.25, -2, 7, 9] })] });
  assert.equal(long.models[0].tables.map((t) => t.defaultValue), [0.25, -2]);
});

test('wrong types, negative sizes and out-of-range fractions name the key, the value and the expectation', async () => {
  const file = join(fixtures, 'bad-values.ps.json');
  const msg = await badConfig(() => loadConfig(file));
  includesAll(msg, [
    file, '4 problems',
    'models[0].embedding_vecsize_per_table[1]: expected an integer in [1, 1048576], got -8',
    'models[0].gpucacheper: expected a number in [0, 1], got 1.5',
    'models[0].max_batch_size: expected a positive integer, got "sixty-four"',
    'models[0].embedding_table_names: has 3 entries, expected 2 (one per table, as embedding_vecsize_per_table has 2)',
  ]);
  includesAll(await badConfig(() => loadConfig(file, { strict: true })), ['5 problems', 'volatile_db.overflow_margn: unknown key; did you mean "overflow_margin"?']);
  const more = await badConfig(() => resolveConfig({
    supportlonglong: 'yes',
    models: [model({ hit_rate_threshold: -0.1, cache_refresh_percentage_per_iteration: 2 })],
    volatile_db: { type: 'hash_map', num_partitions: -4, overflow_resolution_target: 0, initial_cache_rate: 1.01, overflow_policy: 'evict_newest' },
    persistent_db: { type: 'level_db', max_batch_size: 0 },
    update_source: { type: 'redis_stream', poll_timeout_ms: 2.5 },
  }));
  includesAll(more, [
    'supportlonglong: expected true or false, got "yes"',
    'models[0].hit_rate_threshold: expected a number >= 0, got -0.1',
    'models[0].cache_refresh_percentage_per_iteration: expected a number in [0, 1], got 2',
    'volatile_db.num_partitions: expected an integer in [1, 4096], got -4',
    'volatile_db.overflow_resolution_target: expected a number in (0, 1], got 0',
    'volatile_db.initial_cache_rate: expected a number in [0, 1], got 1.01',
    'volatile_db.overflow_policy: expected one of "evict_random", "evict_least_used", "evict_oldest", got "evict_newest"',
    'persistent_db.type: expected one of "disabled", "rocks_db", "lmdb", got "level_db"',
    'persistent_db.max_batch_size: expected a positive integer, got 0',
    'update_source.poll_timeout_ms: expected a positive integer, got 2.5',
  ]);
  const opt = await badConfig(() => resolveConfig({
    models: [{ name: 'm', tables: [{ name: 't', dim: -3 }, { name: 'u', dim: 2, defaultValue: NaN }], l1CacheFraction: -0.5 }],
    volatileDb: { allocationRate: -1, addresses: [] },
  }));
  includesAll(opt, [
    'models[0].tables[1].defaultValue: expected a number, got NaN',
    'volatileDb.addresses: expected a string or a non-empty array of strings, got []',
    'models[0].tables[0].dim: expected an integer in [1, 1048576], got -3',
    'models[0].l1CacheFraction: expected a number in [0, 1], got -0.5',
    'volatileDb.allocationRate: expected a positive integer, got -1',
  ]);
  const huge = await badConfig(() => resolveConfig({ models: [model({ embedding_vecsize_per_table: [16, 2 ** 21] })], volatile_db: { type: 'hash_map', num_partitions: 5000 } }));
  includesAll(huge, ['models[0].embedding_vecsize_per_table[1]: expected an integer in [1, 1048576], got 2097152', 'volatile_db.num_partitions: expected an integer in [1, 4096], got 5000']);
  const missing = await badConfig(() => resolveConfig({ models: [{ model: 'm' }] }));
  includesAll(missing, ['models[0].embedding_vecsize_per_table: expected an array of positive integers, got nothing (the key is missing)']);
});

test('per-table arrays of different lengths say which arrays and lengths', async () => {
  const msg = await badConfig(() => resolveConfig({ models: [model({
    sparse_files: ['x'], embedding_table_names: ['a', 'b', 'c'], maxnum_catfeature_query_per_table_per_sample: [1],
  })] }));
  includesAll(msg, [
    'models[0].sparse_files: has 1 entry, expected 2 (one per table, as embedding_vecsize_per_table has 2; or [] for none)',
    'models[0].embedding_table_names: has 3 entries, expected 2',
    'models[0].maxnum_catfeature_query_per_table_per_sample: has 1 entry, expected 2',
  ]);
  resolveConfig({ models: [model({ sparse_files: [] })] });
  const empty = await badConfig(() => resolveConfig({ models: [model({ embedding_vecsize_per_table: [], embedding_table_names: [] })] }));
  includesAll(empty, ['models[0].embedding_vecsize_per_table: expected at least one table, got []']);
});

test('duplicate model, table and device names; unusable model names; contradicting key types; bad addresses and filters', async () => {
  const msg = await badConfig(() => resolveConfig({
    supportlonglong: false, key_type: 'int64',
    models: [model({ embedding_table_names: ['a', 'a'], deployed_device_list: [0, 1, 0] }), model(), model({ model: '../up' })],
    volatile_db: { type: 'redis_cluster', address: 'h1:7000,h2:70000' },
    persistent_db: { type: 'rocks_db', update_filters: ['hps_(' ] },
  }));
  includesAll(msg, [
    'models[0].embedding_table_names[1]: duplicate table name "a" (also at models[0].embedding_table_names[0])',
    'models[0].deployed_device_list[2]: duplicate device 0 (also at models[0].deployed_device_list[0])',
    'models[1].model: duplicate model name "wdl" (also at models[0].model)',
    'models[2].model: expected a name usable as a folder name',
    'key_type: "int64" contradicts supportlonglong: false',
    'volatile_db.address: expected "host[:port]" entries with a port in 1..65535, got "h2:70000"',
    'persistent_db.update_filters[0]: expected a regular expression, got "hps_("',
  ]);
  const opt = await badConfig(() => resolveConfig({ models: [{ name: 'm', tables: [{ name: 't', dim: 1 }] }, { name: 'm', tables: [{ name: 't', dim: 1, sparseFile: 's3://bucket/t' }] }] }));
  includesAll(opt, ['models[1].name: duplicate model name "m" (also at models[0].name)', 'models[1].tables[0].sparseFile: remote file systems are not supported']);
});

test('a missing file, a folder and invalid JSON name the file (and the byte offset, line and column)', async () => {
  const missing = join(tmp, 'nope', 'ps.json');
  includesAll(await badConfig(() => loadConfig(missing)), [`cannot read config file ${missing}: no such file`]);
  includesAll(await badConfig(() => loadConfig(tmp)), [`cannot read config file ${tmp}: it is a folder`]);
  const bad = join(fixtures, 'invalid-json.ps.json');
  const msg = await badConfig(() => loadConfig(bad));
  includesAll(msg, [`invalid JSON in config file ${bad} at byte offset 107 (line 5, column 5)`, "Expected ',' or ']' after array element"]);
  const truncated = writeTemp('truncated.ps.json', '\ufeff{"models": [{"model": "é", ');
  includesAll(await badConfig(() => loadConfig(truncated)), [`invalid JSON in config file ${truncated} at byte offset 31 (line 1, column 28)`]);
  const notObject = writeTemp('array.ps.json', '[1, 2]');
  includesAll(await badConfig(() => loadConfig(notObject)), [`config file ${notObject}: expected a ps.json object or HpsOptions object, got [1,2]`]);
});

test.run();
