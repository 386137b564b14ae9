import type { EmbeddingCache } from '../cache/types.js';
import type { StoreMark } from '../lmdb/lmdb-store.js';
import type { LookupPool } from '../pool/lookup-pool.js';
import { SharedBuffers } from '../pool/shared-buffers.js';
import type { RangeResult } from '../pool/protocol.js';
import { TableStats } from '../stats/table-stats.js';
import { addCounts, emptyCounts, type TierCounts } from './counts.js';
import { fillRows, pickKeys, pickRows, placeRows } from './compact.js';
import type { PipelineKernels, Combiner } from './kernels-wasm.js';
import { complement, serveUnique, warmingTiers, type Served } from './serve.js';
import { DeferredWork } from './deferred.js';
import { serveUniqueRemote } from './serve-remote.js';
import { serveKeys } from './serve-keys.js';
import { tiersOf, type TableParts, type TableSetup } from './table-setup.js';
import type { TableTiers } from './tiers.js';

export interface TableRuntimeOptions {
  setup: TableSetup;
  /** This thread's tier objects (the WASM L1 in `parts.l1`, or a CUDA L1 in `cudaL1`). */
  parts: TableParts;
  cudaL1: EmbeddingCache | null;
  kernels: PipelineKernels;
  /** The worker pool and this table's index in its setup, when a pool runs. */
  pool: LookupPool | null;
  poolIndex: number;
  /** Requests of at least this many keys are split between the calling thread and the pool's workers. */
  splitMinKeys: number;
}

/**
 * One table's request path on the calling thread: dedup, L1 (WASM inline or CUDA asynchronously),
 * the lower tiers inline or in ranges on the worker pool, the scatter back to the caller's order, and
 * the table's writes and stats.
 */
export class TableRuntime {
  readonly setup: TableSetup;
  readonly stats = new TableStats();
  private readonly parts: TableParts;
  private readonly tiers: TableTiers;
  /** The same tiers without L1: what a cache refresh re-reads from. */
  private readonly lowerTiers: TableTiers;
  private readonly epoch: Int32Array;
  /** Deferred cache insertions; dropped once the table is closed. */
  private readonly deferred = new DeferredWork();
  /** Key and row buffers of requests split across the workers, reused. */
  private readonly shared = new SharedBuffers();

  constructor(private readonly o: TableRuntimeOptions) {
    this.setup = o.setup;
    this.parts = o.parts;
    this.tiers = tiersOf(o.setup, o.parts);
    this.lowerTiers = { ...this.tiers, l1: null };
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
    if (this.o.cudaL1) {
      // The GPU cache is asked from this thread for the distinct keys; what it misses goes below.
      const { unique, inverse } = this.o.kernels.dedup(keys);
      const repeats = unique.length !== keys.length;
      const rows = repeats ? new Float32Array(unique.length * this.dim) : out;
      counts = await this.serve(unique, rows, false);
      if (repeats) this.o.kernels.scatter(rows, inverse, this.dim, out);
    } else if (this.parts.remote) {
      counts = await this.serveWithRemote(keys, out);
    } else if (this.splits(keys.length)) {
      counts = (await this.split(keys, out, false, false)).counts;
    } else {
      counts = serveKeys(this.tiers, this.o.kernels, keys, out, this.deferred.add).counts;
    }
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /**
   * Pooled lookup: row r of `out` combines the vectors of keys offsets[r]..offsets[r+1] (CSR) with
   * `combiner`, weighted by `weights` when given.
   */
  async lookupPooled(keys: BigInt64Array, offsets: Uint32Array, combiner: Combiner, weights: Float32Array | null, out: Float32Array): Promise<void> {
    this.deferred.drain();
    const t0 = process.hrtime.bigint();
    const { unique, inverse } = this.o.kernels.dedup(keys);
    const inline = !this.o.cudaL1 && !this.parts.remote && !this.splits(unique.length);
    // Inline, nothing runs between the serve and the pooling, so one scratch buffer serves every request.
    const rows = inline ? this.scratchRows(unique.length) : new Float32Array(unique.length * this.dim);
    const counts = inline ? serveUnique(this.tiers, unique, rows, this.deferred.add).counts : await this.serve(unique, rows, false);
    this.o.kernels.pool(rows, inverse, offsets, this.dim, combiner, weights, out);
    this.stats.record(keys.length, counts, Number(process.hrtime.bigint() - t0));
  }

  /**
   * A lookup with the Redis tier: dedup, the asynchronous pipeline (serveUniqueRemote) on this thread,
   * scatter. Not split over the workers: they cannot reach Redis, and the round trip dominates anyway.
   */
  private async serveWithRemote(keys: BigInt64Array, out: Float32Array): Promise<TierCounts> {
    const { unique, inverse } = this.o.kernels.dedup(keys);
    const repeats = unique.length !== keys.length;
    const rows = repeats ? new Float32Array(unique.length * this.dim) : out;
    const { counts } = await serveUniqueRemote(this.tiers, this.parts.remote!, unique, rows, this.deferred.add);
    if (repeats) this.o.kernels.scatter(rows, inverse, this.dim, out);
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
      if (store && mark) store.putMarked(this.setup.table, keys, vectors, mark);
      else if (store) store.put(this.setup.table, keys, vectors);
      this.parts.l2?.insert(keys, vectors);
      await this.parts.remote?.insert(keys, vectors);
    }, async () => {
      if (this.parts.l1) this.parts.l1.updateSync(keys, vectors);
      if (this.o.cudaL1) await this.o.cudaL1.update(keys, vectors);
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
      this.parts.l1?.eraseSync(keys);
      if (this.o.cudaL1) await this.o.cudaL1.erase(keys);
    });
  }

  /** Empties L1 and L2 (after the table was replaced below them), as one write. */
  async clearCaches(): Promise<void> {
    await this.write(new BigInt64Array(0), async () => {
      this.parts.l2?.clear();
      await this.parts.remote?.clear();
    }, async () => {
      this.parts.l1?.clearSync();
      await this.o.cudaL1?.clear();
    });
  }

  /**
   * One cache-refresh iteration: re-reads `fraction` of the keys in L1 (a stride that moves on with
   * each call) from the lower tiers and rewrites them in L1; keys found nowhere any more are dropped.
   */
  async refreshStep(fraction: number, cursor: number): Promise<number> {
    const l1 = this.o.cudaL1 ?? this.parts.l1;
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
    await this.o.cudaL1?.close();
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
        this.parts.l1?.eraseSync(keys);
        if (this.o.cudaL1) await this.o.cudaL1.erase(keys);
        if (this.parts.store) this.parts.l2?.erase(keys);
      } catch { /* the original error is the one to report */ }
      throw err;
    } finally {
      Atomics.add(this.epoch, 0, 1);
    }
  }

  /**
   * Serves distinct keys into `rows`, with the CUDA L1 first when there is one. `warm` (prefetch)
   * caches every fetched row at once, in L1 and L2.
   */
  private async serve(unique: BigInt64Array, rows: Float32Array, warm: boolean): Promise<TierCounts> {
    const tiers = warm ? warmingTiers(this.tiers) : this.tiers;
    const cuda = this.o.cudaL1;
    if (!cuda) return (await this.serveLower(unique, rows, tiers, warm)).counts;
    const counts = emptyCounts();
    counts.unique = unique.length;
    const t = process.hrtime.bigint();
    const missed = await cuda.query(unique, rows);
    counts.l1Ns = Number(process.hrtime.bigint() - t);
    counts.l1Hits = unique.length - missed.length;
    if (missed.length === 0) return counts;

    // The WASM path's rules (serveUnique), with the GPU cache's asynchronous calls.
    const missedKeys = pickKeys(unique, missed);
    const epoch = Atomics.load(this.epoch, 0);
    const deferred = counts.l1Hits / unique.length >= tiers.hitRateThreshold;
    const lowerTiers = { ...tiers, l1: null };
    const cacheFetched = async (fetched: Float32Array, notFound: Uint32Array) => {
      if ((epoch & 1) === 1 || notFound.length === missedKeys.length) return;
      const found = notFound.length === 0 ? null : complement(notFound, missedKeys.length);
      const k = found ? pickKeys(missedKeys, found) : missedKeys;
      await cuda.insert(k, found ? pickRows(fetched, found, this.dim) : fetched);
      if (Atomics.load(this.epoch, 0) !== epoch) await cuda.erase(k);
    };
    const later = (work: () => Promise<void>) => this.deferred.add(() => {
      work().catch((err) => console.warn(`hps: a deferred GPU cache insertion failed: ${(err as Error).message}`));
    });
    if (tiers.approximate && deferred) {
      fillRows(rows, missed, this.dim, tiers.defaultValue);
      counts.defaults = missed.length;
      later(async () => {
        const fetched = new Float32Array(missed.length * this.dim);
        const { notFound } = await this.serveLower(missedKeys, fetched, lowerTiers, warm);
        await cacheFetched(fetched, notFound);
      });
      return counts;
    }
    const fetched = new Float32Array(missed.length * this.dim);
    const lower = await this.serveLower(missedKeys, fetched, lowerTiers, warm);
    lower.counts.unique = 0;
    addCounts(counts, lower.counts);
    placeRows(fetched, missed, rows, this.dim);
    if (deferred) later(() => cacheFetched(fetched, lower.notFound));
    else await cacheFetched(fetched, lower.notFound);
    return counts;
  }

  /** The synchronous pipeline over distinct keys, inline for small requests, split across the workers for large ones. */
  private async serveLower(unique: BigInt64Array, rows: Float32Array, tiers: TableTiers, warm: boolean): Promise<Served> {
    if (this.parts.remote) return serveUniqueRemote(tiers, this.parts.remote, unique, rows, this.deferred.add);
    if (!this.splits(unique.length)) return serveUnique(tiers, unique, rows, this.deferred.add);
    return this.split(unique, rows, true, warm);
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
    const ranges = Math.min(pool.threads + 1, Math.ceil(keys.length / (this.o.splitMinKeys / 2)));
    const step = Math.ceil(keys.length / ranges);
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
      const tiers = warm ? warmingTiers(this.tiers) : this.tiers;
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
