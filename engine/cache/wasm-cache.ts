import { threadId } from 'node:worker_threads';
import { describeValue, HpsError } from '../errors.js';
import { instantiateKernels, type WasmKernels } from '../wasm/loader.js';
import { WASM_PAGE_BYTES } from '../wasm/memory.js';
import type { CachePolicy } from '../config/types.js';
import type { CacheStats, EmbeddingCache } from './types.js';
import {
  HEADER, MAGIC, H, DIR_LEN, DIR_ENTRY_WORDS, DIR_FREE, DIR_USED,
  cacheLayout, checkGeometry, chunkRows, scratchLayout, type ScratchLayout,
} from './layout.js';

export interface WasmCacheOptions {
  /** Floats per row. */
  dim: number;
  /** Rows to hold; rounded up to whole sets (`capacity` then reports the rounded value). */
  capacity: number;
  /** Eviction policy; default 'lru'. */
  policy?: CachePolicy;
  /** Ways per set: 1, 2, 4, 8, 16 or 32; default 8. */
  ways?: number;
}

/** What a worker needs to attach to a cache: structured-cloneable (post it with postMessage). */
export interface WasmCacheHandle {
  memory: WebAssembly.Memory;
}

/**
 * The L1 cache on the CPU: a set-associative cache (LRU or LFU) in one shared WebAssembly.Memory,
 * shared by every thread that attaches to it. Lock-free readers, one writer at a time (wasm/cache.c
 * describes the protocol and the eviction rules). Each instance (one per thread) owns a scratch area in
 * the cache memory: keys and rows go through it in chunks, copied in and out in bulk.
 *
 * The `*Sync` methods serve the inline path; the promise methods of EmbeddingCache call them.
 */
export class WasmEmbeddingCache implements EmbeddingCache {
  readonly kind = 'wasm' as const;
  readonly dim: number;
  /** Rows the cache holds: the requested capacity rounded up to whole sets. */
  readonly capacity: number;
  readonly policy: CachePolicy;
  readonly ways: number;
  readonly numSets: number;

  private readonly memory: WebAssembly.Memory;
  private readonly kernels: WasmKernels;
  private readonly scratch: ScratchLayout;
  private readonly dir: Int32Array;
  private readonly dirEntry: number;
  private readonly chunk: number;
  private readonly keyArea: BigInt64Array;
  private readonly rowArea: Float32Array;
  private readonly missArea: Uint32Array;
  private readonly counters: BigUint64Array;
  private missed = new Uint32Array(0);
  private readonly distinctWord: Uint32Array;
  /** Views of the scratch rows by request size, so that the small-batch path allocates nothing. */
  private readonly rowViews = new Map<number, Float32Array>();
  private closed = false;

  /** A new, empty cache in a new shared memory. Throws HpsError BAD_CONFIG / CAPACITY on bad options. */
  static create(options: WasmCacheOptions): WasmEmbeddingCache {
    const g = checkGeometry(options?.dim, options?.capacity, options?.ways ?? 8, options?.policy ?? 'lru');
    const l = cacheLayout(g);
    const pages = Math.max(16, l.end / WASM_PAGE_BYTES); // the module asks for at least 1 MiB
    const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
    const h = new Uint32Array(memory.buffer, HEADER, 16);
    h[H.dim / 4] = g.dim;
    h[H.ways / 4] = g.ways;
    h[H.numSets / 4] = g.numSets;
    h[H.policy / 4] = g.policy === 'lfu' ? 1 : 0;
    h[H.sets / 4] = l.sets;
    h[H.setBytes / 4] = l.setBytes;
    h[H.rowsInSet / 4] = l.rowsInSet;
    h[H.dir / 4] = l.dir;
    h[H.dirLen / 4] = DIR_LEN;
    h[H.capacity / 4] = l.capacity;
    Atomics.store(h, H.magic / 4, MAGIC);
    return new WasmEmbeddingCache(memory);
  }

  /** Attaches to the cache of `handle` (from `handle()`, possibly in another thread). */
  static attach(handle: WasmCacheHandle): WasmEmbeddingCache {
    if (!(handle?.memory instanceof WebAssembly.Memory)) {
      throw new HpsError('BAD_CONFIG', 'WasmEmbeddingCache.attach: expected a handle from WasmEmbeddingCache.handle() ({ memory: WebAssembly.Memory })');
    }
    const buf = handle.memory.buffer;
    if (buf.byteLength < HEADER + 64 || Atomics.load(new Uint32Array(buf, HEADER, 1), 0) !== MAGIC) {
      throw new HpsError('BAD_CONFIG', `WasmEmbeddingCache.attach: the memory holds no cache (no header at byte ${HEADER})`);
    }
    return new WasmEmbeddingCache(handle.memory);
  }

  private constructor(memory: WebAssembly.Memory) {
    const h = new Uint32Array(memory.buffer, HEADER, 16);
    this.memory = memory;
    this.dim = h[H.dim / 4];
    this.ways = h[H.ways / 4];
    this.numSets = h[H.numSets / 4];
    this.capacity = h[H.capacity / 4];
    this.policy = h[H.policy / 4] === 1 ? 'lfu' : 'lru';
    this.kernels = instantiateKernels(memory);
    this.chunk = chunkRows(this.dim);
    this.dir = new Int32Array(memory.buffer, h[H.dir / 4], DIR_LEN * DIR_ENTRY_WORDS);
    const { base, entry } = claimScratch(memory, this.dir, scratchLayout(0, this.dim).bytes);
    this.scratch = scratchLayout(base, this.dim);
    this.dirEntry = entry;
    const buf = memory.buffer;
    this.keyArea = new BigInt64Array(buf, this.scratch.keys, this.chunk);
    this.rowArea = new Float32Array(buf, this.scratch.rows, this.chunk * this.dim);
    this.missArea = new Uint32Array(buf, this.scratch.miss, this.chunk);
    this.counters = new BigUint64Array(buf, HEADER + H.clock, 6);
    this.distinctWord = new Uint32Array(buf, this.scratch.distinct, 1);
  }

  /** A structured-cloneable handle for `WasmEmbeddingCache.attach` in another thread. */
  handle(): WasmCacheHandle {
    return { memory: this.memory };
  }

  /**
   * Looks up `keys`: row i of `out` for every hit, rows of misses untouched. Returns the ascending
   * positions that missed. Records an access (stamp, and count for LFU) for every hit.
   */
  querySync(keys: BigInt64Array, out: Float32Array): Uint32Array {
    this.checkOpen();
    checkKeys(keys);
    const n = keys.length, dim = this.dim;
    if (!(out instanceof Float32Array) || out.length < n * dim) {
      throw new HpsError('BAD_OUTPUT', `out: expected a Float32Array of at least keys.length x dim = ${n} x ${dim} = ${n * dim} floats, got ${describeValue(out)}`);
    }
    if (n === 0) return new Uint32Array(0);
    if (this.missed.length < n) this.missed = new Uint32Array(n);
    const s = this.scratch, k = this.kernels, rows = this.rowArea, miss = this.missArea;
    k.l1_tick(HEADER, s.stamp);
    let total = 0;
    for (let c0 = 0; c0 < n; c0 += this.chunk) {
      const m = Math.min(this.chunk, n - c0);
      this.keyArea.set(keys.subarray(c0, c0 + m));
      const nm = k.l1_query(HEADER, s.keys, m, s.rows, s.miss, s.stamp, s.probe);
      // Copy the runs of hits between misses, each in one piece.
      let start = 0;
      for (let j = 0; j < nm; j++) {
        const p = miss[j];
        if (p > start) out.set(rows.subarray(start * dim, p * dim), (c0 + start) * dim);
        start = p + 1;
        this.missed[total++] = c0 + p;
      }
      if (start < m) out.set(rows.subarray(start * dim, m * dim), (c0 + start) * dim);
    }
    return this.missed.slice(0, total);
  }

  /** Keys a small-batch call (serveBegin) takes at most: one scratch chunk. */
  get smallBatchKeys(): number {
    return this.chunk;
  }

  /**
   * The small-batch inline path, first half (wasm/cache.c l1_serve): deduplicates `keys` (at most
   * smallBatchKeys), looks each distinct key up once (a hit is an access, as in querySync) and puts
   * the hit rows in request order in this instance's scratch, with no allocation and no JavaScript per
   * key. Returns the number of distinct keys that missed; `serveDistinct()` gives the distinct count.
   * When it returns 0, call `serveFinish(out, n, 0)`; otherwise write the rows of `serveMissedKeys(m)`
   * into `serveMissedRows(m)` and call `serveFinish(out, n, m)`. Nothing else may use this instance
   * in between (the scratch holds the request).
   */
  serveBegin(keys: BigInt64Array): number {
    this.checkOpen();
    checkKeys(keys);
    const n = keys.length;
    if (n > this.chunk) {
      throw new HpsError('BAD_KEY', `serveBegin: ${n} keys, expected at most smallBatchKeys = ${this.chunk} (querySync takes any number)`);
    }
    const s = this.scratch, k = this.kernels;
    this.keyArea.set(keys);
    k.l1_tick(HEADER, s.stamp);
    return k.l1_serve(HEADER, s.keys, n, s.rows, s.inverse, s.first, s.miss, s.missKeys, s.table, s.tableMask, s.stamp, s.probe, s.distinct);
  }

  /** Distinct keys of the last serveBegin. */
  serveDistinct(): number {
    return this.distinctWord[0];
  }

  /** The `m` distinct keys the last serveBegin missed (a view of the scratch: copy it to keep it). */
  serveMissedKeys(m: number): BigInt64Array {
    return new BigInt64Array(this.memory.buffer, this.scratch.missKeys, m);
  }

  /** Where the rows of serveMissedKeys(m) go, in that order, before serveFinish (a view of the scratch). */
  serveMissedRows(m: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.scratch.fill, m * this.dim);
  }

  /**
   * Second half: places the `m` missed rows (serveMissedRows) at every position of their keys, then
   * copies the request's rows to `out` (keys.length x dim of the last serveBegin) in one piece.
   */
  serveFinish(out: Float32Array, n: number, m: number): void {
    const s = this.scratch, dim = this.dim;
    if (!(out instanceof Float32Array) || out.length < n * dim) {
      throw new HpsError('BAD_OUTPUT', `out: expected a Float32Array of at least ${n} x ${dim} = ${n * dim} floats, got ${describeValue(out)}`);
    }
    if (m > 0) this.kernels.l1_place_missed(s.rows, dim, s.inverse, n, s.miss, m, s.fill, s.slotOf, this.distinctWord[0]);
    let view = this.rowViews.get(n);
    if (!view) {
      if (this.rowViews.size >= 64) this.rowViews.clear();
      view = this.rowArea.subarray(0, n * dim);
      this.rowViews.set(n, view);
    }
    out.set(view);
  }

  /** Inserts or replaces rows (`vectors` is keys.length x dim), evicting by the policy when a set is full. */
  insertSync(keys: BigInt64Array, vectors: Float32Array): void {
    this.checkWrite(keys, vectors);
    if (keys.length === 0) return;
    const s = this.scratch;
    this.kernels.l1_tick(HEADER, s.stamp);
    this.forChunks(keys, vectors, (m) => this.kernels.l1_insert(HEADER, OWNER, s.keys, m, s.rows, s.stamp));
  }

  /** Overwrites rows of keys already cached (no access recorded); others are ignored. Returns rows updated. */
  updateSync(keys: BigInt64Array, vectors: Float32Array): number {
    this.checkWrite(keys, vectors);
    let updated = 0;
    this.forChunks(keys, vectors, (m) => { updated += this.kernels.l1_update(HEADER, OWNER, this.scratch.keys, m, this.scratch.rows); });
    return updated;
  }

  /** Removes keys; returns how many were present. */
  eraseSync(keys: BigInt64Array): number {
    this.checkOpen();
    checkKeys(keys);
    let erased = 0;
    this.forChunks(keys, null, (m) => { erased += this.kernels.l1_erase(HEADER, OWNER, this.scratch.keys, m); });
    return erased;
  }

  /** Every cached key, in set order (set 0 first, ways ascending within a set). */
  dumpSync(): BigInt64Array {
    this.checkOpen();
    const all = new BigInt64Array(this.capacity);
    const setsPerChunk = Math.floor(this.chunk / this.ways);
    let total = 0;
    for (let set = 0; set < this.numSets; set += setsPerChunk) {
      const got = this.kernels.l1_dump(HEADER, OWNER, set, setsPerChunk, this.scratch.keys);
      all.set(this.keyArea.subarray(0, got), total);
      total += got;
    }
    return all.slice(0, total);
  }

  /** Removes every row (counters other than size are kept). */
  clearSync(): void {
    this.checkOpen();
    this.kernels.l1_clear(HEADER, OWNER);
  }

  /** The set `key` maps to: hi32(fmix64(key)) * numSets >> 32 (see wasm/cache.c). */
  setIndexOf(key: bigint): number {
    this.checkOpen();
    this.keyArea[0] = BigInt.asIntN(64, key);
    return this.kernels.l1_set_index(HEADER, this.scratch.keys);
  }

  stats(): CacheStats {
    const c = this.counters;
    return {
      size: Number(Atomics.load(c, 1)),
      capacity: this.capacity,
      hits: Number(Atomics.load(c, 2)),
      misses: Number(Atomics.load(c, 3)),
      insertions: Number(Atomics.load(c, 4)),
      evictions: Number(Atomics.load(c, 5)),
    };
  }

  async query(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array> { return this.querySync(keys, out); }
  async insert(keys: BigInt64Array, vectors: Float32Array): Promise<void> { this.insertSync(keys, vectors); }
  async update(keys: BigInt64Array, vectors: Float32Array): Promise<number> { return this.updateSync(keys, vectors); }
  async erase(keys: BigInt64Array): Promise<number> { return this.eraseSync(keys); }
  async dump(): Promise<BigInt64Array> { return this.dumpSync(); }
  async clear(): Promise<void> { this.clearSync(); }

  /**
   * Detaches this instance and hands its scratch area to the next attach. The cache itself lives as
   * long as any thread holds its memory.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.dirEntry >= 0) freeEntry(this.dir, this.dirEntry * DIR_ENTRY_WORDS, OWNER);
  }

  /**
   * Cleans up after a thread (`worker.threadId`) that used this cache and ended without `close()`:
   * terminated or crashed. If it died holding the writer lock, the one row it was writing is dropped
   * (it may be half written; readers treat it as a miss until then), the size is recounted and the lock
   * freed; its scratch areas go back to the free list. Returns true if it held the lock. Never call it
   * for a thread that is still running.
   */
  releaseThread(deadThreadId: number): boolean {
    this.checkOpen();
    const owner = deadThreadId + 1;
    const recovered = this.kernels.l1_recover(HEADER, owner) === 1;
    for (let e = 0; e < DIR_LEN; e++) {
      const at = e * DIR_ENTRY_WORDS;
      if (Atomics.load(this.dir, at) === DIR_USED) freeEntry(this.dir, at, owner);
    }
    return recovered;
  }

  private checkOpen(): void {
    if (this.closed) throw new HpsError('CLOSED', 'WasmEmbeddingCache: this instance was closed');
  }

  private checkWrite(keys: BigInt64Array, vectors: Float32Array): void {
    this.checkOpen();
    checkKeys(keys);
    const want = keys.length * this.dim;
    if (!(vectors instanceof Float32Array) || vectors.length !== want) {
      throw new HpsError('BAD_VECTOR', `vectors: expected a Float32Array of keys.length x dim = ${keys.length} x ${this.dim} = ${want} floats, got ${describeValue(vectors)}`);
    }
  }

  /** Copies keys (and rows) chunk by chunk into the scratch area and calls `run(rowsInChunk)`. */
  private forChunks(keys: BigInt64Array, vectors: Float32Array | null, run: (m: number) => void): void {
    const dim = this.dim;
    for (let c0 = 0; c0 < keys.length; c0 += this.chunk) {
      const m = Math.min(this.chunk, keys.length - c0);
      this.keyArea.set(keys.subarray(c0, c0 + m));
      if (vectors) this.rowArea.set(vectors.subarray(c0 * dim, (c0 + m) * dim));
      run(m);
    }
  }
}

/**
 * Frees a directory entry held by `owner`. The owner field is cleared first, so that a later
 * releaseThread of that owner cannot free the entry once another thread has claimed it.
 */
function freeEntry(dir: Int32Array, at: number, owner: number): void {
  if (Atomics.compareExchange(dir, at + 2, owner, 0) === owner) Atomics.store(dir, at, DIR_FREE);
}

/** This thread's id in the writer lock word and the scratch directory (0 means free, so id + 1). */
const OWNER = threadId + 1;

function checkKeys(keys: unknown): asserts keys is BigInt64Array {
  if (!(keys instanceof BigInt64Array)) {
    throw new HpsError('BAD_KEY', `keys: expected a BigInt64Array (see engine/keys.ts normalizeKeys), got ${describeValue(keys)}`);
  }
}


/**
 * A scratch area for one instance: a released one from the directory, else a new one at the end of the
 * memory (memory.grow returns the old end, so concurrent attaches get distinct areas). The entry records
 * this thread as its owner.
 */
function claimScratch(memory: WebAssembly.Memory, dir: Int32Array, bytes: number): { base: number; entry: number } {
  for (let e = 0; e < DIR_LEN; e++) {
    const at = e * DIR_ENTRY_WORDS;
    if (Atomics.compareExchange(dir, at, DIR_FREE, DIR_USED) === DIR_FREE) {
      Atomics.store(dir, at + 2, OWNER);
      return { base: Atomics.load(dir, at + 1) >>> 0, entry: e };
    }
  }
  let base: number;
  try {
    base = memory.grow(bytes / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  } catch (err) {
    throw new HpsError('CAPACITY', `WasmEmbeddingCache: cannot grow the cache memory by ${bytes} bytes for this thread's scratch area`, { cause: err });
  }
  for (let e = 0; e < DIR_LEN; e++) {
    const at = e * DIR_ENTRY_WORDS;
    if (Atomics.compareExchange(dir, at, 0, DIR_USED) === 0) {
      Atomics.store(dir, at + 1, base | 0);
      Atomics.store(dir, at + 2, OWNER);
      return { base, entry: e };
    }
  }
  return { base, entry: -1 };
}
