import type { CachePolicy } from '../../engine/config/types.js';
import type { CacheStats, PoolingEmbeddingCache } from '../../engine/cache/types.js';

/**
 * An EmbeddingCache in plain JavaScript that answers every call later, as the GPU cache does: calls are
 * queued in order and each runs after a real turn of the event loop (a random mix of setImmediate and
 * setTimeout), reading its arguments only then, so a caller that reuses a buffer before the promise
 * settles gets wrong results. LRU over a Map (re-inserted on access), evicting the least recently used
 * row when full. Pooled lookups are reduced here, as the GPU reduces them. It lets machines without a
 * GPU run the pipeline's awaited-L1 paths.
 */
export class AsyncFakeCache implements PoolingEmbeddingCache {
  readonly kind = 'async-fake';
  readonly policy: CachePolicy = 'lru';
  /** Calls made, by method, so tests can see the awaited path was taken. */
  readonly calls = { query: 0, pooled: 0, insert: 0, update: 0, erase: 0 };
  private readonly rows = new Map<bigint, Float32Array>();
  private readonly counters = { hits: 0, misses: 0, insertions: 0, evictions: 0 };
  private tail: Promise<unknown> = Promise.resolve();
  private seed: number;
  private closed = false;

  constructor(readonly dim: number, readonly capacity: number, seed = 1) {
    this.seed = seed;
  }

  query(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array> {
    this.calls.query++;
    return this.later(() => {
      const missing: number[] = [];
      keys.forEach((k, i) => {
        const row = this.rows.get(k);
        if (!row) return void missing.push(i);
        this.rows.delete(k);
        this.rows.set(k, row);
        out.set(row, i * this.dim);
      });
      this.counters.hits += keys.length - missing.length;
      this.counters.misses += missing.length;
      return Uint32Array.from(missing);
    });
  }

  queryPooled(keys: BigInt64Array, offsets: Uint32Array, weights: Float32Array | null, combiner: 'sum' | 'mean' | 'sqrtn', out: Float32Array): Promise<Uint32Array> {
    this.calls.pooled++;
    return this.later(() => {
      const missing: number[] = [];
      for (let r = 0; r + 1 < offsets.length; r++) {
        const acc = new Float64Array(this.dim);
        let norm = 0;
        for (let k = offsets[r]; k < offsets[r + 1]; k++) {
          const w = weights ? weights[k] : 1;
          norm += combiner === 'sqrtn' ? w * w : w;
          const row = this.rows.get(keys[k]);
          if (!row) { missing.push(k); continue; }
          for (let d = 0; d < this.dim; d++) acc[d] += w * row[d];
        }
        const divisor = combiner === 'sum' ? 1 : combiner === 'mean' ? norm : Math.sqrt(norm);
        for (let d = 0; d < this.dim; d++) out[r * this.dim + d] = divisor === 0 ? 0 : acc[d] / divisor;
      }
      this.counters.hits += keys.length - missing.length;
      this.counters.misses += missing.length;
      return Uint32Array.from(missing);
    });
  }

  insert(keys: BigInt64Array, vectors: Float32Array): Promise<void> {
    this.calls.insert++;
    return this.later(() => {
      keys.forEach((k, i) => {
        if (!this.rows.delete(k)) {
          this.counters.insertions++;
          if (this.rows.size >= this.capacity) {
            this.rows.delete(this.rows.keys().next().value as bigint);
            this.counters.evictions++;
          }
        }
        this.rows.set(k, vectors.slice(i * this.dim, (i + 1) * this.dim));
      });
    });
  }

  update(keys: BigInt64Array, vectors: Float32Array): Promise<number> {
    this.calls.update++;
    return this.later(() => {
      let n = 0;
      keys.forEach((k, i) => {
        const row = this.rows.get(k);
        if (row) { row.set(vectors.subarray(i * this.dim, (i + 1) * this.dim)); n++; }
      });
      return n;
    });
  }

  erase(keys: BigInt64Array): Promise<number> {
    this.calls.erase++;
    return this.later(() => keys.reduce((n, k) => n + (this.rows.delete(k) ? 1 : 0), 0));
  }

  dump(): Promise<BigInt64Array> {
    return this.later(() => BigInt64Array.from(this.rows.keys()));
  }

  clear(): Promise<void> {
    return this.later(() => this.rows.clear());
  }

  /** Whether `key` is cached now (no access recorded). */
  has(key: bigint): boolean {
    return this.rows.has(key);
  }

  stats(): CacheStats {
    return { size: this.rows.size, capacity: this.capacity, ...this.counters };
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
  }

  /** Runs `work` after every earlier call, on a later turn of the event loop. */
  private later<T>(work: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('AsyncFakeCache: closed'));
    this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
    const viaTimer = (this.seed >>> 16) % 3 === 0;
    const run = this.tail.then(() => new Promise<T>((resolve, reject) => {
      const go = () => { try { resolve(work()); } catch (e) { reject(e); } };
      if (viaTimer) setTimeout(go, 0); else setImmediate(go);
    }));
    this.tail = run.catch(() => {});
    return run;
  }
}
