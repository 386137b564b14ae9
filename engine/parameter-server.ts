import { loadConfig } from './config/index.js';
import type { HpsOptions } from './config/options.js';
import type { ModelConfig, ResolvedConfig, TableConfig } from './config/types.js';
import { badArgument, badOffsets, describeValue, HpsError } from './errors.js';
import { fingerprintFiles } from './import/fingerprint.js';
import { exportHugeCtrFolder, importTable, openHugeCtrFolder, openImportSource, type ExportReport, type ImportReport, type ImportSpec } from './import/index.js';
import { normalizeKeys, type KeyInput } from './keys.js';
import { LmdbStore, checkVectors } from './lmdb/lmdb-store.js';
import type { ImportSource } from './import/source.js';
import { buildTable, warmUp, type BuiltTable } from './build-table.js';
import { PipelineKernels, type Combiner } from './pipeline/kernels-wasm.js';
import { TableRuntime } from './pipeline/table-runtime.js';
import { LookupPool } from './pool/lookup-pool.js';
import { ModelUsage } from './model-usage.js';
import type { Cluster } from 'ioredis';
import { join, resolve } from 'node:path';
import type { StoreMark } from './lmdb/lmdb-store.js';
import { openRedisClients } from './redis/open.js';
import type { RedisTierStats } from './redis/redis-tier.js';
import { startUpdates } from './updates/attach.js';
import type { UpdateConsumer, UpdateStats } from './updates/consumer.js';
import type { TableStatsSnapshot } from './stats/table-stats.js';
import type { CacheStats, EmbeddingCache, L1Spec } from './cache/types.js';
import { WasmEmbeddingCache } from './cache/wasm-cache.js';
import { CudaEmbeddingCache } from './cache/cuda-cache.js';
import type { HostArenaStats } from './host/host-arena.js';

export interface OpenOptions {
  /** Progress bars for imports done at open; default: when stderr is a terminal. */
  progress?: boolean;
  /** Where the one-line "not yet supported" notice and other warnings go. Default console.warn. */
  warn?: (line: string) => void;
  /** Unknown ps.json keys are errors (BAD_CONFIG) instead of warnings. Default false, as HPS ignored them. */
  strict?: boolean;
  /** Where informational lines (which L1 cache was picked, and why) go. Default: stderr. */
  log?: (line: string) => void;
  /**
   * Requests of at least this many keys are split into ranges served by the calling thread and the
   * worker threads; smaller ones are served inline on the calling thread. Default 16,384 (measured:
   * docs/pipeline.md).
   */
  splitMinKeys?: number;
  /**
   * Builds each table's L1 cache in place of the config's choice (`l1_backend`): any EmbeddingCache
   * (engine/cache/types.ts), whose promises the pipeline awaits. For caches of your own and for tests;
   * called only for models with L1 enabled.
   */
  l1Cache?: (spec: L1Spec) => EmbeddingCache;
}

/** One table's part of a `lookupMany` call. */
export interface LookupSpec {
  /** Table name, or index into the model's tables. */
  table: string | number;
  keys: KeyInput;
  /** Output of keys.length x dim floats; a new Float32Array when omitted. */
  out?: Float32Array;
}

export interface PooledLookupOptions {
  /** How the vectors of a row's keys combine: 'mean' (default, as HPS's SparseLookupLayer), 'sum' or 'sqrtn'. */
  combiner?: Combiner;
  /** One weight per key; each vector is scaled by its weight before combining. */
  weights?: Float32Array;
  /** Output of rows x dim floats (rows = offsets.length - 1). */
  out?: Float32Array;
}

export interface TableStats extends TableStatsSnapshot {
  model: string;
  table: string;
  /** The L1 cache's own counters, or null without L1. */
  l1Cache: (CacheStats & { kind: string }) | null;
  /** The host arena's counters, or null without L2. */
  l2Arena: HostArenaStats | null;
  /** The Redis tier's counters (hits, misses, faults, keys that fell through, evictions), or null without it. */
  l2Redis: RedisTierStats | null;
}

export interface TableInfo {
  name: string;
  index: number;
  dim: number;
  keyType: 'int64' | 'uint32';
  defaultValue: number;
  /** Rows in the persistent tier, or null when it is disabled. */
  rows: number | null;
  sparseFile: string | null;
  /** What the persistent rows were imported from, if anything. */
  importedFrom: string | null;
  tiers: string[];
}

export interface ServerInfo {
  models: { name: string; persistentPath: string | null; tables: TableInfo[] }[];
  persistentDb: { type: string; path: string; readOnly: boolean };
  notYetSupported: string[];
  /** Imports done by `open` (sparse files new or changed since the last open). */
  importsAtOpen: ImportReport[];
}

interface TableEntry {
  readonly config: TableConfig;
  /** The model's operations in flight (shared by its tables). */
  readonly usage: ModelUsage;
  readonly index: number;
  readonly dim: number;
  readonly runtime: TableRuntime;
  readonly built: BuiltTable;
}

interface ModelEntry {
  readonly config: ModelConfig;
  readonly store: LmdbStore | null;
  readonly tables: TableEntry[];
  /** This model's worker pool: each model has its own, so that a reload can replace it. */
  readonly pool: LookupPool | null;
  readonly usage: ModelUsage;
}

/** What opening a model needs, kept for reloads. */
interface OpenContext {
  options: OpenOptions;
  warn: (line: string) => void;
  log: (line: string) => void;
  kernels: PipelineKernels;
  splitMinKeys: number;
  /** The Redis Cluster clients every model's tables share, when volatile_db is a redis_cluster. */
  redisClients: Cluster[];
  /**
   * Where runtime events go (a Redis partition failing and answering again, a skipped update message):
   * `options.warn` not deduplicated, since each outage is logged when it starts and when it ends.
   */
  events: (line: string) => void;
}

/** HPS's SparseLookupLayer combines with `mean` unless told otherwise. */
const DEFAULT_COMBINER: Combiner = 'mean';
const COMBINERS: readonly unknown[] = ['mean', 'sum', 'sqrtn'];

/** Default of OpenOptions.splitMinKeys: below it, one thread serves a request faster than a split. */
const SPLIT_MIN_KEYS = 16384;

/**
 * The embedding store: models of tables, each table served by its tiers: L1 (CUDA or WASM cache), L2
 * (the shared host arena), L3 (LMDB), then the default vector. Large requests are split across a pool
 * of worker threads that share the tiers.
 */
export class ParameterServer {
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  /** Reloads in progress, by model: writes to the model wait for them. */
  private readonly reloads = new Map<string, Promise<void>>();

  private constructor(
    readonly config: ResolvedConfig,
    private readonly models: Map<string, ModelEntry>,
    private readonly importsAtOpen: ImportReport[],
    private readonly source: string | HpsOptions | object,
    private readonly context: OpenContext,
  ) {
    this.startRefresh();
  }

  /**
   * Opens a store from a ps.json path, a parsed ps.json object or typed options. Tables whose
   * `sparseFile` (HugeCTR folder) is new or changed since the last open are imported into LMDB first.
   */
  static async open(config: string | HpsOptions | object, options: OpenOptions = {}): Promise<ParameterServer> {
    const splitMinKeys = options.splitMinKeys ?? SPLIT_MIN_KEYS;
    if (!(Number.isInteger(splitMinKeys) && splitMinKeys >= 1) && splitMinKeys !== Infinity) {
      throw badArgument('OpenOptions.splitMinKeys', 'an integer >= 1 (keys), or Infinity to never split', splitMinKeys);
    }
    const resolved = await loadConfig(config, { strict: options.strict });
    const warn = once(options.warn ?? console.warn);
    for (const line of resolved.warnings) warn(`hps: ${line}`);
    if (resolved.notYetSupported.length > 0) {
      warn(`hps: accepted but not yet supported (no effect yet): ${resolved.notYetSupported.join(', ')}`);
    }
    const context: OpenContext = {
      options,
      warn,
      log: once(options.log ?? ((line) => process.stderr.write(`${line}\n`))),
      kernels: new PipelineKernels(),
      splitMinKeys,
      redisClients: resolved.volatileDb.type === 'redis_cluster' ? await openRedisClients(resolved) : [],
      events: options.warn ?? console.warn,
    };
    const imports: ImportReport[] = [];
    const models = new Map<string, ModelEntry>();
    try {
      for (const model of resolved.models) models.set(model.name, await openEntry(resolved, model, imports, context));
    } catch (e) {
      for (const m of models.values()) await closeEntry(m);
      for (const c of context.redisClients) c.disconnect();
      throw e;
    }
    const server = new ParameterServer(resolved, models, imports, config, context);
    if (resolved.updateSource) {
      try {
        const tables = resolved.models.flatMap((m) => m.tables.map((t) => ({ model: m.name, table: t })));
        server.updates = await startUpdates(resolved, tables, {
          storedId: (model, table, name) => server.models.get(model)?.tables.find((t) => t.config.name === table)?.built.parts.store?.mark(name),
          apply: (model, table, keys, vectors, mark) => server.applyUpdate(model, table, keys, vectors, mark),
        }, context.events);
      } catch (e) {
        await server.close();
        throw e;
      }
    }
    return server;
  }

  /** The update source's reader (update_source redis_stream), once open started it. */
  private updates: UpdateConsumer | null = null;

  /** The update source's counters (messages and rows applied, bad messages, last IDs), or null without one. */
  updateStats(): UpdateStats | null {
    return this.updates?.stats() ?? null;
  }

  /** The update source's reader, to listen for applied batches; null without an update_source. */
  get updateSource(): UpdateConsumer | null {
    return this.updates;
  }

  /**
   * An update from the update source: update(), with the stream ID stored in the same L3 transaction as
   * the rows (when there is L3).
   */
  private async applyUpdate(model: string, table: string, keys: BigInt64Array, vectors: Float32Array, mark: StoreMark): Promise<void> {
    await this.reloads.get(model);
    const entry = this.table(model, table);
    const store = entry.built.parts.store;
    if (store?.readOnly) {
      throw new HpsError('READ_ONLY', `update_source: model ${model} table ${table}: persistent_db is read-only (read_only: true); a serving process that takes updates needs a writable store`);
    }
    await entry.usage.track(entry.runtime.update(keys, vectors, store ? mark : null));
  }

  /**
   * Looks up `keys` in `table` (name or index) of `model`. Resolves to `out` (or a new Float32Array)
   * holding keys.length x dim floats, row i for keys[i]; keys found in no tier get the default vector.
   */
  async lookup(model: string, table: string | number, keys: KeyInput, out?: Float32Array): Promise<Float32Array> {
    const entry = this.table(model, table);
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    const output = checkOutput(out, normalized.length, entry.dim, 'out', model, entry.config.name);
    await entry.usage.track(entry.runtime.lookup(normalized, output));
    return output;
  }

  /**
   * A reusable output for the rows of `n` keys of `table` (n x dim floats), for `lookup`, `lookupMany`
   * and, with n = rows, `lookupPooled`'s `out`. Where the table's L1 is the CUDA cache it is pinned host
   * memory mapped into the GPU, so rows cross PCIe straight into it with no staging copy (freed when
   * the array is garbage-collected); otherwise a plain Float32Array.
   */
  allocOutput(model: string, table: string | number, n: number): Float32Array {
    const entry = this.table(model, table);
    if (!Number.isSafeInteger(n) || n < 0 || n * entry.dim > 2 ** 32) {
      throw new HpsError('BAD_OUTPUT', `allocOutput: n: expected an integer in [0, 2^32 / dim] (rows of ${entry.dim} floats), got ${describeValue(n)}`);
    }
    const l1 = entry.built.parts.l1;
    return l1 instanceof CudaEmbeddingCache ? l1.pinnedFloat32(n * entry.dim) : new Float32Array(n * entry.dim);
  }

  /**
   * Several tables of one model in one call: each spec's keys are looked up in its table (name or
   * index), concurrently, into its `out` (or a new Float32Array). Every spec is validated before any
   * lookup starts, so a bad one fails the whole call with nothing looked up. Resolves to the outputs in
   * the specs' order.
   */
  async lookupMany(model: string, specs: readonly LookupSpec[]): Promise<Float32Array[]> {
    if (!Array.isArray(specs)) {
      throw badArgument('lookupMany: specs', 'an array of { table, keys, out? }', specs);
    }
    const planned = specs.map((spec, i) => {
      if (spec === null || typeof spec !== 'object') {
        throw badArgument(`lookupMany: specs[${i}]`, '{ table, keys, out? }', spec);
      }
      const entry = this.table(model, spec.table);
      const keys = normalizeKeys(spec.keys, entry.config.keyType, `specs[${i}].keys`);
      return { entry, keys, out: checkOutput(spec.out, keys.length, entry.dim, `specs[${i}].out`, model, entry.config.name) };
    });
    await Promise.all(planned.map(({ entry, keys, out }) => entry.usage.track(entry.runtime.lookup(keys, out))));
    return planned.map((p) => p.out);
  }

  /**
   * Pooled (sparse) lookup, as HPS's SparseLookupLayer: `offsets` (CSR, rows + 1 ascending entries from
   * 0 to keys.length) groups the keys into rows; row r of the result combines the vectors of keys
   * offsets[r]..offsets[r+1]-1 with `combiner` (weighted by `weights` when given). An empty row is zeros.
   */
  async lookupPooled(model: string, table: string | number, keys: KeyInput, offsets: Uint32Array | readonly number[], options: PooledLookupOptions = {}): Promise<Float32Array> {
    const { entry, normalized, csr, out, combiner } = this.planPooled(model, table, keys, offsets, options);
    await entry.usage.track(entry.runtime.lookupPooled(normalized, csr, combiner, options.weights ?? null, out));
    return out;
  }

  /**
   * `lookup`, done before it returns: served on the calling thread, with no worker pool and no promise.
   * Meant for small batches where an `await` does not fit (a TF.js layer's call()): the event loop is
   * blocked for the whole lookup, and a large batch gets none of the pool's threads. A table with a CUDA
   * L1 cache cannot be read synchronously (BAD_CONFIG: use `lookup`, or `l1_backend: "wasm"`).
   */
  lookupSync(model: string, table: string | number, keys: KeyInput, out?: Float32Array): Float32Array {
    const entry = this.syncTable(model, table, 'lookupSync');
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    const output = checkOutput(out, normalized.length, entry.dim, 'out', model, entry.config.name);
    entry.runtime.lookupSync(normalized, output);
    return output;
  }

  /** `lookupPooled`, done before it returns, with `lookupSync`'s limits. */
  lookupPooledSync(model: string, table: string | number, keys: KeyInput, offsets: Uint32Array | readonly number[], options: PooledLookupOptions = {}): Float32Array {
    this.syncTable(model, table, 'lookupPooledSync');
    const { entry, normalized, csr, out, combiner } = this.planPooled(model, table, keys, offsets, options);
    entry.runtime.lookupPooledSync(normalized, csr, combiner, options.weights ?? null, out);
    return out;
  }

  /** A pooled lookup's checked arguments. */
  private planPooled(model: string, table: string | number, keys: KeyInput, offsets: Uint32Array | readonly number[], options: PooledLookupOptions) {
    const entry = this.table(model, table);
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    const csr = checkOffsets(offsets, normalized.length);
    if (options === null || typeof options !== 'object') throw badArgument('options', 'an object { combiner?, weights?, out? } or undefined', options);
    const { weights } = options;
    if (weights !== undefined && weights !== null && (!(weights instanceof Float32Array) || weights.length !== normalized.length)) {
      throw new HpsError('BAD_VECTOR', `options.weights: expected a Float32Array of one weight per key (${normalized.length}), got ${describeValue(weights)}`);
    }
    const size = (csr.length - 1) * entry.dim;
    const out = options.out ?? new Float32Array(size);
    if (!(out instanceof Float32Array) || out.length !== size) {
      throw new HpsError('BAD_OUTPUT', `options.out: expected a Float32Array of ${csr.length - 1} rows x dim ${entry.dim} = ${size} floats, got ${describeValue(out)}`);
    }
    const combiner = options.combiner ?? DEFAULT_COMBINER;
    if (!COMBINERS.includes(combiner)) throw badArgument('options.combiner', "'mean', 'sum' or 'sqrtn'", combiner);
    return { entry, normalized, csr, out, combiner };
  }

  /** The table, when it can be read synchronously. */
  private syncTable(model: string, table: string | number, op: string): TableEntry {
    const entry = this.table(model, table);
    if (!entry.runtime.servesSync) {
      const why = entry.built.parts.remote ? 'its volatile tier is a Redis Cluster' : `it has a ${entry.built.parts.l1?.kind} L1 cache`;
      throw new HpsError('BAD_CONFIG', `${op}: model ${model} table ${entry.config.name} cannot be read synchronously: ${why}, whose calls are asynchronous; use the promise-returning lookup${entry.built.parts.remote ? '' : ', or set l1_backend: "wasm" for this model'}`);
    }
    return entry;
  }

  /** Warms L1 and L2 with `keys` (fetched from below now), so that lookups of them soon after hit. */
  async prefetch(model: string, table: string | number, keys: KeyInput): Promise<void> {
    const entry = this.table(model, table);
    await entry.usage.track(entry.runtime.prefetch(normalizeKeys(keys, entry.config.keyType, 'keys')));
  }

  /**
   * Writes `vectors` (keys.length x dim) for `keys`: L3 in one transaction, then L2, then L1 rows in
   * place. A lookup started after this resolves sees the new rows; one running alongside sees, for each
   * key, the whole old vector or the whole new one. Bad input changes nothing.
   */
  async update(model: string, table: string | number, keys: KeyInput, vectors: Float32Array): Promise<void> {
    await this.reloads.get(model);
    const entry = this.table(model, table);
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    checkVectors(model, entry.config, normalized.length, vectors);
    this.checkWritable(model, entry, 'update');
    await entry.usage.track(entry.runtime.update(normalized, vectors));
  }

  /** Removes `keys` from every tier; later lookups of them get the default vector. */
  async erase(model: string, table: string | number, keys: KeyInput): Promise<void> {
    await this.reloads.get(model);
    const entry = this.table(model, table);
    const normalized = normalizeKeys(keys, entry.config.keyType, 'keys');
    this.checkWritable(model, entry, 'erase');
    await entry.usage.track(entry.runtime.erase(normalized));
  }

  /** Per-table hit rates and counters of every tier, and p50/p99 latency per stage. */
  stats(): TableStats[] {
    this.checkOpen();
    return [...this.models.values()].flatMap((m) => m.tables.map((t) => {
      const { parts } = t.built;
      const l1 = parts.l1;
      return {
        model: m.config.name,
        table: t.config.name,
        ...t.runtime.stats.snapshot(),
        l1Cache: l1 ? { kind: l1.kind, ...l1.stats() } : null,
        l2Arena: parts.l2 ? parts.l2.stats() : null,
        l2Redis: t.built.redis ? t.built.redis.stats() : null,
      };
    }));
  }

  /**
   * One cache-refresh iteration for every table of `model` (all models when omitted): re-reads
   * `cache_refresh_percentage_per_iteration` of L1's keys from the lower tiers. Runs by itself every
   * `refresh_interval` seconds (after `refresh_delay`) when the config sets an interval.
   */
  async refreshCaches(model?: string): Promise<void> {
    this.checkOpen();
    const models = model === undefined ? [...this.models.values()] : [this.modelEntry(model)];
    for (const m of models) {
      for (const t of m.tables) {
        this.refreshCursor.set(t.runtime, await t.runtime.refreshStep(m.config.cacheRefreshFraction, this.refreshCursor.get(t.runtime) ?? 0));
      }
    }
  }

  private readonly refreshCursor = new Map<TableRuntime, number>();

  private startRefresh(): void {
    for (const m of this.models.values()) {
      const { refreshIntervalSec, refreshDelaySec, name } = m.config;
      if (refreshIntervalSec <= 0) continue;
      const run = () => this.refreshCaches(name).catch((e) => this.context.warn(`hps: cache refresh of model ${name} failed: ${(e as Error).message}`));
      const delay = setTimeout(() => {
        const every = setInterval(run, refreshIntervalSec * 1000);
        every.unref();
        this.timers.push(every);
        void run();
      }, refreshDelaySec * 1000);
      delay.unref();
      this.timers.push(delay);
    }
  }

  /** Imports a table's rows from files (atomic: on failure the table is unchanged). */
  async importTable(model: string, table: string | number, spec: ImportSpec, options: { progress?: boolean } = {}): Promise<ImportReport> {
    const entry = this.table(model, table);
    const store = this.storeOf(model);
    const source = await openImportSource(spec, entry.dim);
    this.warnIfUndoneAtOpen(model, entry.config, source);
    const { report } = await importTable(store, entry.config.name, source, { keyType: entry.config.keyType, progress: options.progress });
    // The table was replaced as a whole: empty its caches, then warm them again as at open.
    await entry.runtime.clearCaches();
    const { parts } = entry.built;
    await warmUp(entry.config, store, null, parts.l2, parts.l1, this.config.volatileDb.initialCacheRate);
    return report;
  }

  /**
   * A table with a sparse file in the configuration is made to match it at every open (a changed
   * fingerprint is imported again): rows imported from other files are replaced at the next open. Says
   * so when the import starts, naming both.
   */
  private warnIfUndoneAtOpen(model: string, table: TableConfig, source: ImportSource): void {
    if (!table.sparseFile) return;
    const sparse = new Set([join(table.sparseFile, 'key'), join(table.sparseFile, 'emb_vector')].map((f) => resolve(f)));
    if (source.files.every((f) => sparse.has(resolve(f)))) return;
    this.context.warn(`hps: model ${model} table ${table.name}: importing ${source.files.join(', ')}, not the table's sparse file ${table.sparseFile} (sparse_files in the configuration): the next open of this configuration imports ${table.sparseFile} again over these rows, since the store no longer matches it. To keep these rows, write them as that sparse file (hps export) or change sparse_files`);
  }

  /** Writes a table's persistent rows as a HugeCTR folder (`key`, `emb_vector`). */
  async exportTable(model: string, table: string | number, folder: string): Promise<ExportReport> {
    const entry = this.table(model, table);
    return exportHugeCtrFolder(this.storeOf(model), entry.config.name, folder);
  }

  /**
   * Up to `limit` keys of a table's persistent rows, in ascending key order, read from the store this
   * server already has open (a snapshot scan; no second store is opened).
   */
  storedKeys(model: string, table: string | number, limit: number): BigInt64Array {
    const entry = this.table(model, table);
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw badArgument(`storedKeys: model ${model} table ${entry.config.name}: limit`, 'a non-negative integer', limit);
    }
    const store = this.storeOf(model, 'read keys from');
    const name = entry.config.name;
    const rows = store.table(name)?.count ?? 0;
    const keys = new BigInt64Array(Math.min(limit, rows));
    if (keys.length === 0) return keys;
    let got = 0;
    for (const chunk of store.scan(name, Math.min(65536, keys.length))) {
      const take = Math.min(chunk.keys.length, keys.length - got);
      keys.set(chunk.keys.subarray(0, take), got);
      if ((got += take) === keys.length) break;
    }
    return keys.subarray(0, got);
  }

  /** One table's entry of `info()`; fails with `UNKNOWN_MODEL` / `UNKNOWN_TABLE` naming the known ones. */
  tableInfo(model: string, table: string | number): TableInfo {
    const entry = this.table(model, table);
    return describeTable(this.modelEntry(model), entry);
  }

  info(): ServerInfo {
    this.checkOpen();
    const { persistentDb } = this.config;
    return {
      models: [...this.models.values()].map((m) => ({
        name: m.config.name,
        persistentPath: m.store?.path ?? null,
        tables: m.tables.map((t) => describeTable(m, t)),
      })),
      persistentDb: { type: persistentDb.type, path: persistentDb.path, readOnly: persistentDb.readOnly },
      notYetSupported: [...this.config.notYetSupported],
      importsAtOpen: [...this.importsAtOpen],
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await this.updates?.close();
    await Promise.all(this.reloads.values());
    for (const m of this.models.values()) await closeEntry(m);
    for (const c of this.context.redisClients) c.disconnect();
  }

  /** The configuration of a loaded model (as of its last load). */
  modelConfig(model: string): ModelConfig {
    this.checkOpen();
    return this.modelEntry(model).config;
  }

  /** Names of the loaded models. */
  modelNames(): string[] {
    this.checkOpen();
    return [...this.models.keys()];
  }

  /**
   * (Re)loads `model` from the configuration it was opened with (a ps.json is read again): tables whose
   * sparse files changed are imported (LMDB swaps each table in one transaction), the model's tiers and
   * worker pool are built beside the serving ones and warmed, then swapped in at once. Lookups go on
   * throughout: one that started on the old model finishes on it, and the old model is closed when the
   * last of them is done. Writes to the model wait for the reload. A model unloaded before is loaded.
   */
  async reloadModel(model: string): Promise<ImportReport[]> {
    this.checkOpen();
    if (this.reloads.has(model)) throw new HpsError('BAD_REQUEST', `model ${model} is being loaded already; try again when that load finishes`);
    let finish!: () => void;
    this.reloads.set(model, new Promise<void>((resolve) => { finish = resolve; }));
    try {
      const resolved = await loadConfig(this.source, { strict: this.context.options.strict });
      const config = resolved.models.find((m) => m.name === model);
      if (!config) {
        throw new HpsError('UNKNOWN_MODEL', `model ${shown(model)} is not in ${resolved.sourceFile ?? 'the configuration'}; models there: ${resolved.models.map((m) => m.name).join(', ')}`);
      }
      const imports: ImportReport[] = [];
      const fresh = await openEntry({ ...this.config, models: resolved.models }, config, imports, this.context);
      const old = this.models.get(model);
      this.models.set(model, fresh);
      if (old) await retire(old);
      return imports;
    } finally {
      this.reloads.delete(model);
      finish();
    }
  }

  /** Stops serving `model` (lookups of it get UNKNOWN_MODEL) and closes it once its lookups in flight finish. */
  async unloadModel(model: string): Promise<void> {
    this.checkOpen();
    await this.reloads.get(model);
    const entry = this.modelEntry(model);
    this.models.delete(model);
    await retire(entry);
  }

  private modelEntry(model: string): ModelEntry {
    const m = this.models.get(model);
    if (!m) {
      throw new HpsError('UNKNOWN_MODEL', `model ${shown(model)} is not loaded; known models: ${[...this.models.keys()].join(', ') || '(none)'}`);
    }
    return m;
  }

  private table(model: string, table: string | number): TableEntry {
    this.checkOpen();
    const m = this.modelEntry(model);
    const entry = typeof table === 'number' ? m.tables[table] : m.tables.find((t) => t.config.name === table);
    if (!entry || (typeof table === 'number' && !Number.isInteger(table))) {
      const known = m.tables.map((t) => `${t.index}: ${t.config.name}`).join(', ');
      throw new HpsError('UNKNOWN_TABLE', `model ${model} has no table ${shown(table)}; known tables (index: name): ${known}`);
    }
    return entry;
  }

  private storeOf(model: string, purpose = 'import into or export from'): LmdbStore {
    const store = this.models.get(model)?.store;
    if (!store) throw new HpsError('BAD_CONFIG', `model ${model}: the persistent tier is disabled (persistent_db), so there is no store to ${purpose}`);
    return store;
  }

  private checkWritable(model: string, entry: TableEntry, op: string): void {
    const { store, l2, remote } = entry.built.parts;
    if (store?.readOnly) {
      throw new HpsError('READ_ONLY', `${op}: model ${model} table ${entry.config.name}: persistent_db is read-only (read_only: true); open a writable store to change rows`);
    }
    if (!store && !l2 && !remote) {
      throw new HpsError('READ_ONLY', `${op}: model ${model} table ${entry.config.name} has neither a persistent nor a volatile tier to write to`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new HpsError('CLOSED', 'the ParameterServer is closed');
  }
}

interface OpenedModel {
  config: ModelConfig;
  store: LmdbStore | null;
  tables: { config: TableConfig; index: number; built: BuiltTable }[];
}

async function openModel(
  config: ResolvedConfig, model: ModelConfig, imports: ImportReport[], options: OpenOptions,
  warn: (line: string) => void, log: (line: string) => void, redisClients: Cluster[], events: (line: string) => void,
): Promise<OpenedModel> {
  const progress = options.progress;
  const { persistentDb } = config;
  const store = persistentDb.type === 'lmdb' ? LmdbStore.open(persistentDb.path, model.name, { readOnly: persistentDb.readOnly }) : null;
  const opened: OpenedModel = { config: model, store, tables: [] };
  try {
    for (const [index, table] of model.tables.entries()) {
      let sparse: ImportSource | null = null;
      if (store) {
        await prepareTable(store, table, imports, progress);
      } else if (table.sparseFile && config.volatileDb.type !== 'disabled') {
        // No persistent tier: HPS loaded the sparse files straight into the volatile database.
        sparse = openHugeCtrFolder(table.sparseFile, table.dim);
      } else if (table.sparseFile) {
        warn(`hps: model ${model.name} table ${table.name}: sparse file ${table.sparseFile} is not loaded because persistent_db and volatile_db are both disabled; lookups return the default vector`);
      }
      opened.tables.push({ config: table, index, built: await buildTable(config, model, table, store, sparse, warn, log, options.l1Cache, redisClients, events) });
    }
    return opened;
  } catch (e) {
    await closeOpened([opened]);
    throw e;
  }
}

async function closeOpened(models: OpenedModel[]): Promise<void> {
  for (const m of models) {
    for (const t of m.tables) {
      await t.built.parts.l1?.close();
      t.built.parts.l2?.close();
    }
    await m.store?.close();
  }
}

/** Opens one model: its store (importing changed sparse files), its tables' tiers, its worker pool. */
async function openEntry(config: ResolvedConfig, model: ModelConfig, imports: ImportReport[], context: OpenContext): Promise<ModelEntry> {
  const opened = await openModel(config, model, imports, context.options, context.warn, context.log, context.redisClients, context.events);
  let pool: LookupPool | null = null;
  if (config.workerThreads > 0 && opened.tables.length > 0) {
    const parts = opened.tables.map((t) => t.built.parts);
    pool = new LookupPool({
      threads: config.workerThreads,
      setup: { tables: opened.tables.map((t) => t.built.setup) },
      warn: context.warn,
      onWorkerExit: (threadId) => {
        for (const { l1, l2 } of parts) {
          if (l1 instanceof WasmEmbeddingCache) l1.releaseThread(threadId);
          l2?.releaseThread(threadId);
        }
      },
    });
  }
  const usage = new ModelUsage();
  const { kernels, splitMinKeys, warn } = context;
  return {
    config: opened.config,
    store: opened.store,
    pool,
    usage,
    tables: opened.tables.map((t, poolIndex) => ({
      config: t.config,
      index: t.index,
      dim: t.config.dim,
      built: t.built,
      usage,
      runtime: new TableRuntime({ ...t.built, kernels, pool, poolIndex, splitMinKeys, warn }),
    })),
  };
}

async function closeEntry(m: ModelEntry): Promise<void> {
  await m.pool?.close();
  for (const t of m.tables) await t.runtime.close();
  await m.store?.close();
}

/** Closes a model taken out of service once the operations that started on it have finished. */
async function retire(m: ModelEntry): Promise<void> {
  await m.usage.idle();
  await closeEntry(m);
}

/** A model or table argument in a message: a name quoted, a number as it is (NaN too), anything else by describeValue. */
function shown(v: unknown): string {
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' ? JSON.stringify(v) : describeValue(v);
}

/** `write`, but each distinct line only once (tables of one open share one notice). */
function once(write: (line: string) => void): (line: string) => void {
  const seen = new Set<string>();
  return (line) => {
    if (seen.has(line)) return;
    seen.add(line);
    write(line);
  };
}

function tierNames(built: BuiltTable): string[] {
  const names: string[] = [];
  if (built.parts.l1) names.push(`l1:${built.parts.l1.kind}`);
  if (built.parts.l2) names.push(built.redis ? 'l2:near-cache' : 'l2:host-arena');
  if (built.redis) names.push('l2:redis-cluster');
  if (built.parts.store) names.push('l3:lmdb');
  return names;
}

/** Checks CSR row offsets: ascending, from 0 to `keys`. */
function checkOffsets(offsets: Uint32Array | readonly number[], keys: number): Uint32Array {
  if (!(offsets instanceof Uint32Array) && !Array.isArray(offsets)) {
    throw badOffsets(`offsets: expected a Uint32Array or an array of rows + 1 ascending integers, got ${describeValue(offsets)}`);
  }
  if (offsets.length < 1 || offsets[0] !== 0 || offsets[offsets.length - 1] !== keys) {
    throw badOffsets(`offsets: expected rows + 1 ascending entries starting at 0 and ending at keys.length (${keys}), got ${offsets.length} entries from ${offsets[0]} to ${offsets[offsets.length - 1]}`);
  }
  for (let i = 1; i < offsets.length; i++) {
    if (!Number.isInteger(offsets[i]) || offsets[i] < offsets[i - 1]) {
      throw badOffsets(`offsets[${i}]: ${offsets[i]} is not valid: expected an integer >= offsets[${i - 1}] (${offsets[i - 1]})`);
    }
  }
  return offsets instanceof Uint32Array ? offsets : Uint32Array.from(offsets);
}

/**
 * Makes the persistent table match the configuration: imports the sparse file when the stored
 * fingerprint differs (first open, or the files changed), creates an empty table otherwise.
 */
async function prepareTable(store: LmdbStore, table: TableConfig, imports: ImportReport[], progress: boolean | undefined): Promise<void> {
  const existing = store.table(table.name);
  if (table.sparseFile) {
    const source = openHugeCtrFolder(table.sparseFile, table.dim);
    const fingerprint = fingerprintFiles(source.files, table.dim);
    if (existing?.fingerprint === fingerprint && existing.keyType === table.keyType) return;
    if (store.readOnly) {
      throw new HpsError('READ_ONLY', `model ${store.model} table ${table.name}: ${existing ? 'the sparse files changed since the last import' : 'the table was never imported'} (${table.sparseFile}), but persistent_db is read-only; import it with \`hps import\` or a writable open first`);
    }
    const { report } = await importTable(store, table.name, source, { keyType: table.keyType, progress });
    imports.push(report);
    return;
  }
  if (existing) {
    if (existing.dim !== table.dim || existing.keyType !== table.keyType) {
      throw new HpsError('BAD_CONFIG', `model ${store.model} table ${table.name}: the persistent store at ${store.path} holds dim ${existing.dim} ${existing.keyType} keys, the configuration says dim ${table.dim} ${table.keyType} keys`);
    }
  } else if (!store.readOnly) {
    store.ensureTable(table.name, table.dim, table.keyType);
  }
}

/** `out` when it is a Float32Array of exactly keys x dim floats, a new one when undefined. */
function checkOutput(out: Float32Array | undefined, keys: number, dim: number, name: string, model: string, table: string): Float32Array {
  const size = keys * dim;
  if (out === undefined) return new Float32Array(size);
  if (!(out instanceof Float32Array)) {
    throw new HpsError('BAD_OUTPUT', `${name}: expected a Float32Array of ${keys} keys x dim ${dim} = ${size} floats, got ${describeValue(out)}`);
  }
  if (out.length !== size) {
    throw new HpsError('BAD_OUTPUT', `${name}: holds ${out.length} floats, expected ${keys} keys x dim ${dim} = ${size} (model ${model} table ${table})`);
  }
  return out;
}

function describeTable(m: ModelEntry, t: TableEntry): TableInfo {
  const meta = m.store?.table(t.config.name);
  return {
    name: t.config.name,
    index: t.index,
    dim: t.dim,
    keyType: t.config.keyType,
    defaultValue: t.config.defaultValue,
    rows: m.store ? (meta?.count ?? 0) : null,
    sparseFile: t.config.sparseFile,
    importedFrom: meta?.source ?? null,
    tiers: tierNames(t.built),
  };
}
