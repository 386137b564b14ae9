import type { LookupPool } from '../pool/lookup-pool.js';
import { SharedBuffers } from '../pool/shared-buffers.js';
import type { RangeResult } from '../pool/protocol.js';
import { TableStats } from '../stats/table-stats.js';
import { addCounts, emptyCounts, type TierCounts } from './counts.js';
import { pickKeys } from './compact.js';
import type { PipelineKernels, Combiner } from './kernels-wasm.js';
import { missSteps, resolveBelowL1, serveSteps, serveUnique, warmingTiers, type BelowL1, type Served } from './serve.js';
import { drive, then } from './steps.js';
import { addMissedRows } from './pool-misses.js';
import { poolsItself, type PoolingEmbeddingCache } from '../cache/types.js';
import { DeferredWork } from './deferred.js';
import { remoteBelow } from './serve-remote.js';
import type { StoreMark } from '../lmdb/lmdb-store.js';
import { positionsOf, serveKeys } from './serve-keys.js';
import { serveSmall } from './serve-small.js';
import type { WasmEmbeddingCache } from '../cache/wasm-cache.js';
import { isSyncCache, tiersOf, type TableParts, type TableSetup } from './table-setup.js';
import type { TableTiers } from './tiers.js';

export interface TableRuntimeOptions {
  setup: TableSetup;
  /** This thread's tier objects; `parts.l1` is the WASM cache or another EmbeddingCache (CUDA). */
  parts: TableParts;
  kernels: PipelineKernels;
  /** The worker pool and this table's index in its setup, when a pool runs. */
  pool: LookupPool | null;
  poolIndex: number;
  /** Requests of at least this many keys are split between the calling thread and the pool's workers. */
  splitMinKeys: number;
  /** Where warnings go (OpenOptions.warn). */
  warn: (line: string) => void;
}

/**
 * One table's request path on the calling thread: dedup, L1, the lower tiers inline or in ranges on the
 * worker pool, the scatter back to the caller's order, and the table's writes and stats. The rules are
 * serveSteps's for every L1: a WASM L1 answers at once, on this thread and in the workers (each range
 * goes through L1 where it is served); any other EmbeddingCache (the CUDA cache) is asked on this
 * thread and awaited, and only what it missed goes below, inline or to the workers.
 */
export class TableRuntime {
  readonly setup: TableSetup;
  readonly stats = new TableStats();
  private readonly parts: TableParts;
  private readonly tiers: TableTiers;
  /** The same tiers without L1: what a cache refresh re-reads from, and what an awaited L1 missed goes to. */
  private readonly lowerTiers: TableTiers;
  /**
   * L1 answers synchronously (or there is none) and there is no Redis tier: the workers serve whole
   * ranges, L1 included. With Redis, requests are served on this thread and Redis is awaited (the
   * workers cannot reach it, and the round trip dominates anyway).
   */
  private readonly syncL1: boolean;
  private readonly epoch: Int32Array;
  /** Deferred cache insertions; dropped once the table is closed. */
  private readonly deferred: DeferredWork;
  /** Key and row buffers of requests split across the workers, reused. */
  private readonly shared = new SharedBuffers();

  constructor(private readonly o: TableRuntimeOptions) {
    this.deferred = new DeferredWork(o.warn);
    this.setup = o.setup;
    this.parts = o.parts;
    this.tiers = tiersOf(o.setup, o.parts);
    this.lowerTiers = { ...this.tiers, l1: null };
    this.syncL1 = isSyncCache(o.parts.l1) && !o.parts.remote;
    this.epoch = this.tiers.epoch;
  }

  get dim(): number {
    return this.setup.dim;
  }

  /** Fills `out` (keys.length x dim) with the rows of `keys` in order, repeats included. */
  async lookup(keys: BigInt64Array, out: Float32Array): Promise<void> {
    this.deferred.drain();
    const t0 = process.hrtime.bigint();
    let counts: TierCounts;
    if (!this.syncL1 && !isSyncCache(this.parts.l1)) {
      // The awaited L1 (the GPU cache) takes repeated keys itself and writes its hits straight into
      // `out` (over PCIe when `out` is pinned); only what it missed is deduplicated, for the tiers below.
      counts = (await this.serve(keys, out, false, false)).counts;
    } else if (!this.syncL1) {
      // A WASM L1 over an asynchronous tier below (Redis): each distinct key is served once.
      const { unique, inverse } = this.o.kernels.dedup(keys);
      const repeats = unique.length !== keys.length;
      const rows = repeats ? new Float32Array(unique.length * this.dim) : out;
      counts = (await this.serve(unique, rows, false)).counts;
      if (repeats) this.o.kernels.scatter(rows, inverse, this.dim, out);
    } else if (this.splits(keys.length)) {
      counts = (await this.split(keys, out, false, false)).counts;
    } else {
      counts = this.serveInline(keys, out);
    }
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /**
   * A request served on this thread with a synchronous L1: the small-batch path (serveSmall: one kernel
   * call for dedup, L1 and the copies; nothing allocated when every key hits) when it fits the WASM L1's
   * scratch, else dedup, serveUnique and the scatter.
   */
  private serveInline(keys: BigInt64Array, out: Float32Array): TierCounts {
    const l1 = this.parts.l1 as WasmEmbeddingCache | null;
    if (l1 !== null && keys.length <= l1.smallBatchKeys) {
      serveSmall(this.tiers, l1, keys, out, this.deferred.add, this.smallCounts);
      return this.smallCounts;
    }
    return serveKeys(this.tiers, this.o.kernels, keys, out, this.deferred.add).counts;
  }

  /** The counts of a small-batch request, reused: that path allocates nothing when every key hits. */
  private readonly smallCounts = emptyCounts();

  /**
   * Pooled lookup: row r of `out` combines the vectors of keys offsets[r]..offsets[r+1] (CSR) with
   * `combiner`, weighted by `weights` when given.
   */
  async lookupPooled(keys: BigInt64Array, offsets: Uint32Array, combiner: Combiner, weights: Float32Array | null, out: Float32Array): Promise<void> {
    this.deferred.drain();
    const t0 = process.hrtime.bigint();
    const l1 = this.parts.l1;
    if (!this.syncL1 && poolsItself(l1)) {
      const counts = await this.poolOnL1(l1, keys, offsets, combiner, weights, out);
      this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
      return;
    }
    const { unique, inverse } = this.o.kernels.dedup(keys);
    const inline = this.syncL1 && !this.splits(unique.length);
    // Inline, nothing runs between the serve and the pooling, so one scratch buffer serves every request.
    const rows = inline ? this.scratchRows(unique.length) : new Float32Array(unique.length * this.dim);
    const counts = (inline ? serveUnique(this.tiers, unique, rows, this.deferred.add) : await this.serve(unique, rows, false)).counts;
    this.o.kernels.pool(rows, inverse, offsets, this.dim, combiner, weights, out);
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /**
   * lookup() finished before it returns, on the calling thread: no worker pool, no GPU (a CUDA L1's
   * calls are asynchronous). For small batches where a promise does not fit, e.g. a TF.js layer's call().
   */
  lookupSync(keys: BigInt64Array, out: Float32Array): void {
    this.deferred.drain();
    const t0 = process.hrtime.bigint();
    const counts = this.serveInline(keys, out);
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /** lookupPooled() on the calling thread, synchronously, with lookupSync's limits. */
  lookupPooledSync(keys: BigInt64Array, offsets: Uint32Array, combiner: Combiner, weights: Float32Array | null, out: Float32Array): void {
    this.deferred.drain();
    const t0 = process.hrtime.bigint();
    const { unique, inverse } = this.o.kernels.dedup(keys);
    const rows = this.scratchRows(unique.length);
    const { counts } = serveUnique(this.tiers, unique, rows, this.deferred.add);
    this.o.kernels.pool(rows, inverse, offsets, this.dim, combiner, weights, out);
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /** Whether lookups can run synchronously: not with an awaited L1 (the CUDA cache's calls are asynchronous). */
  get servesSync(): boolean {
    return this.syncL1;
  }

  /**
   * A pooled lookup reduced by the L1 cache itself (the GPU: only rows x dim floats cross the bus); the
   * keys it missed go through L1's rules (missSteps) with the batch's hit rate, and their vectors are
   * added to their rows with the same divisor.
   */
  private async poolOnL1(l1: PoolingEmbeddingCache, keys: BigInt64Array, offsets: Uint32Array, combiner: Combiner, weights: Float32Array | null, out: Float32Array): Promise<TierCounts> {
    const counts = emptyCounts();
    counts.unique = keys.length;
    const epoch = Atomics.load(this.epoch, 0);
    const t = process.hrtime.bigint();
    const missing = await l1.queryPooled(keys, offsets, weights, combiner, out);
    counts.l1Ns = Number(process.hrtime.bigint() - t);
    counts.l1Hits = keys.length - missing.length;
    if (missing.length === 0) return counts;
    const { unique, inverse } = this.o.kernels.dedup(pickKeys(keys, missing));
    counts.unique -= missing.length - unique.length;
    const rows = new Float32Array(unique.length * this.dim);
    const hitRate = counts.l1Hits / keys.length;
    await drive(missSteps(this.tiers, this.tiers.l1!, epoch, unique, rows, hitRate, counts, this.deferred.add, this.below(this.tiers, false, true)));
    addMissedRows(out, offsets, weights, combiner, missing, inverse, rows, this.dim);
    return counts;
  }

  /** Whether a request of `keys` keys is split across the worker pool. */
  private splits(keys: number): boolean {
    return this.o.pool !== null && keys >= this.o.splitMinKeys;
  }

  /** This thread's reusable buffer for the distinct rows of an inline request (grown, never shrunk). */
  private scratchRows(uniqueKeys: number): Float32Array {
    const floats = uniqueKeys * this.dim;
    if (this.scratch.length < floats) this.scratch = new Float32Array(Math.max(floats, this.scratch.length * 2));
    return this.scratch.subarray(0, floats);
  }

  private scratch = new Float32Array(0);

  /** Brings `keys` into L1 and L2 now (insertion synchronous), so later lookups of them hit. */
  async prefetch(keys: BigInt64Array): Promise<void> {
    const { unique } = this.o.kernels.dedup(keys);
    await this.serve(unique, new Float32Array(unique.length * this.dim), true);
  }

  /**
   * Writes rows to every tier: L3 in one transaction first, then L2, then L1 rows updated in place.
   * The write epoch is odd meanwhile, so lookups overlapping it do not cache what they fetched.
   * Validation happens before anything changes; if a tier fails after L3 committed, the keys are taken
   * out of the tiers above so that no stale row stays cached.
   */
  async update(keys: BigInt64Array, vectors: Float32Array, mark: StoreMark | null = null): Promise<void> {
    const store = this.parts.store;
    await this.write(keys, async () => {
      // An update source's stream ID goes into the same L3 transaction as the rows.
      if (store && mark) store.putMarked(this.setup.table, keys, vectors, mark);
      else if (store) store.put(this.setup.table, keys, vectors);
      this.parts.l2?.insert(keys, vectors);
      // Redis is shared with other processes, which apply the same updates at their own pace: with L3
      // behind it, the keys are taken out of Redis (each process then reads its own L3, which matches
      // what it has applied) rather than written, so that a lagging process can never overwrite a newer
      // row there. Without L3, Redis holds the only copy and gets the rows.
      if (store) await this.parts.remote?.erase(keys);
      else await this.parts.remote?.insert(keys, vectors);
    }, async () => {
      await this.parts.l1?.update(keys, vectors);
    });
  }

  /** Removes keys from every tier; later lookups of them return the default vector. */
  async erase(keys: BigInt64Array): Promise<void> {
    const store = this.parts.store;
    await this.write(keys, async () => {
      if (store) store.erase(this.setup.table, keys);
      this.parts.l2?.erase(keys);
      await this.parts.remote?.erase(keys);
    }, async () => {
      await this.parts.l1?.erase(keys);
    });
  }

  /** Empties L1 and L2 (after the table was replaced below them), as one write. */
  async clearCaches(): Promise<void> {
    await this.write(new BigInt64Array(0), async () => {
      this.parts.l2?.clear();
      await this.parts.remote?.clear();
    }, async () => {
      await this.parts.l1?.clear();
    });
  }

  /**
   * One cache-refresh iteration: re-reads `fraction` of the keys in L1 (a stride that moves on with
   * each call) from the lower tiers and rewrites them in L1; keys found nowhere any more are dropped.
   */
  async refreshStep(fraction: number, cursor: number): Promise<number> {
    const l1 = this.parts.l1;
    if (!l1) return 0;
    const all = await l1.dump();
    if (all.length === 0) return 0;
    const count = Math.max(1, Math.ceil(all.length * fraction));
    const start = cursor % all.length;
    const positions = new Uint32Array(Math.min(count, all.length));
    for (let i = 0; i < positions.length; i++) positions[i] = (start + i) % all.length;
    const keys = pickKeys(all, positions);
    const epoch = Atomics.load(this.epoch, 0);
    const rows = new Float32Array(keys.length * this.dim);
    serveUnique({ ...this.lowerTiers, cacheMissedEmbeddings: false }, keys, rows, () => {});
    // A write during the re-read may have made these rows stale: leave L1 to the writer then.
    if ((epoch & 1) === 1 || Atomics.load(this.epoch, 0) !== epoch) return start;
    await l1.update(keys, rows);
    return start + positions.length;
  }

  async close(): Promise<void> {
    this.deferred.close();
    await this.parts.l1?.close();
    this.parts.l2?.close();
  }

  private async write(keys: BigInt64Array, lower: () => Promise<void>, caches: () => Promise<void>): Promise<void> {
    Atomics.add(this.epoch, 0, 1);
    try {
      await lower();
      await caches();
    } catch (err) {
      // L3 is the truth: whatever happened above it, drop the keys from the caches so none is stale.
      try {
        await this.parts.l1?.erase(keys);
        if (this.parts.store) this.parts.l2?.erase(keys);
      } catch { /* the original error is the one to report */ }
      throw err;
    } finally {
      Atomics.add(this.epoch, 0, 1);
    }
  }

  /**
   * Serves keys into `rows` by serveSteps: L1 on this thread, then what it missed inline or split over
   * the workers. The keys are distinct unless `distinct` is false (an awaited L1 takes repeats itself).
   * `warm` (prefetch) caches every fetched row at once, in L1 and L2.
   */
  private async serve(keys: BigInt64Array, rows: Float32Array, warm: boolean, distinct = true): Promise<Served> {
    const tiers = warm ? warmingTiers(this.tiers) : this.tiers;
    if (this.syncL1 && this.splits(keys.length)) return this.split(keys, rows, distinct, warm);
    return drive(serveSteps(tiers, keys, rows, this.deferred.add, this.below(tiers, warm, distinct)));
  }

  /**
   * The tiers below L1 for keys an awaited L1 missed: inline, or split over the workers (which serve
   * L2 and L3 only). Unless `distinct`, the keys are deduplicated first and the rows scattered back.
   */
  private below(tiers: TableTiers, warm: boolean, distinct: boolean): BelowL1 {
    const lower = { ...tiers, l1: null };
    const remote = this.parts.remote;
    const serveDistinct: BelowL1 = remote ? remoteBelow(lower, remote, this.deferred.add, this.o.warn) : (keys, out, counts) => {
      if (!this.splits(keys.length)) return resolveBelowL1(lower, keys, out, counts, this.deferred.add);
      return this.split(keys, out, true, warm).then((served) => {
        served.counts.unique = 0;
        addCounts(counts, served.counts);
        return served.notFound;
      });
    };
    if (distinct) return serveDistinct;
    return (keys, out, counts) => {
      const { unique, inverse } = this.o.kernels.dedup(keys);
      if (unique.length === keys.length) return serveDistinct(keys, out, counts);
      // L1 counted each repeat it answered; a key it missed several times counts once.
      counts.unique -= keys.length - unique.length;
      const rows = new Float32Array(unique.length * this.dim);
      return then(serveDistinct(unique, rows, counts), (notFound) => {
        this.o.kernels.scatter(rows, inverse, this.dim, out);
        return positionsOf(notFound, inverse, unique.length);
      });
    };
  }

  /**
   * Serves `keys` into `out` in ranges: the first on this thread, one per worker for the rest, over
   * shared buffers (the caller's own buffer when it is SharedArrayBuffer-backed). Each range is
   * deduplicated on its own unless the keys are `distinct`.
   */
  private async split(keys: BigInt64Array, out: Float32Array, distinct: boolean, warm: boolean): Promise<Served> {
    const pool = this.o.pool!;
    await pool.enter();
    try {
      return await this.splitAdmitted(pool, keys, out, distinct, warm);
    } finally {
      pool.leave();
    }
  }

  private async splitAdmitted(pool: LookupPool, keys: BigInt64Array, out: Float32Array, distinct: boolean, warm: boolean): Promise<Served> {
    const dim = this.dim;
    // At least one key per range: ranges past the end would hand workers nothing to do (or less).
    const wanted = Math.min(pool.threads + 1, keys.length, Math.ceil(keys.length / (this.o.splitMinKeys / 2)));
    const step = Math.ceil(keys.length / wanted);
    const ranges = Math.ceil(keys.length / step);
    const keysShared = this.shared.take(keys.byteLength);
    new BigInt64Array(keysShared, 0, keys.length).set(keys);
    const direct = out.buffer instanceof SharedArrayBuffer;
    const outShared = direct ? (out.buffer as SharedArrayBuffer) : this.shared.take(out.byteLength);
    // Posted first (a free permit posts at once), so the workers start while this thread serves range 0.
    const running = Array.from({ length: ranges - 1 }, (_, i) => pool.run({
      table: this.o.poolIndex,
      keys: keysShared,
      out: outShared,
      outByteOffset: direct ? out.byteOffset : 0,
      offset: (i + 1) * step,
      count: Math.min(step, keys.length - (i + 1) * step),
      distinct,
      warm,
    }));
    let own: Served | null = null;
    let ownError: unknown = null;
    try {
      // This thread serves its range as a worker does: with L1 only where the workers share it.
      const base = this.syncL1 ? this.tiers : this.lowerTiers;
      const tiers = warm ? warmingTiers(base) : base;
      const k = keys.subarray(0, step);
      const o = out.subarray(0, step * dim);
      own = distinct ? serveUnique(tiers, k, o, this.deferred.add) : serveKeys(tiers, this.o.kernels, k, o, this.deferred.add);
    } catch (err) {
      ownError = err;
    }
    // Settled, not all: a buffer goes back only once no worker can still be writing into it.
    const settled = await Promise.allSettled(running);
    this.shared.give(keysShared);
    const failed = settled.find((s) => s.status === 'rejected');
    if (!direct) {
      if (!failed && !ownError) out.set(new Float32Array(outShared, step * dim * 4, out.length - step * dim), step * dim);
      this.shared.give(outShared);
    }
    if (ownError) throw ownError;
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const results = [own!, ...settled.map((s) => (s as PromiseFulfilledResult<RangeResult>).value)];
    const counts = emptyCounts();
    const notFound = new Uint32Array(results.reduce((n, r) => n + r.notFound.length, 0));
    let at = 0;
    results.forEach((r, i) => {
      addCounts(counts, r.counts);
      for (const p of r.notFound) notFound[at++] = p + i * step;
    });
    return { counts, notFound };
  }
}
