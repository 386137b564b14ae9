import { assert, describeValue, gpuSetupError, HpsError } from '../errors.js';
import { loadNative, type NativeAddon, type NativeCache, type NativeDeviceInfo } from '../native.js';
import type { CachePolicy } from '../config/types.js';
import type { CacheStats, EmbeddingCache } from './types.js';

export type Combiner = 'sum' | 'mean' | 'sqrtn';
const COMBINERS: Record<Combiner, 0 | 1 | 2> = { sum: 0, mean: 1, sqrtn: 2 };

export interface CudaCacheOptions {
  /** Floats per row. */
  dim: number;
  /**
   * Rows to hold, rounded up to whole 128-slot buckets (`capacity` reports the rounded value). Per
   * device for replicated tables; over all devices for sharded ones.
   */
  capacity: number;
  /** Eviction policy; default 'lru'. */
  policy?: CachePolicy;
  /** HPS `deployed_device_list`; default [0]. A device may be listed more than once. */
  devices?: number[];
  /** 'replicated' (HPS): a full copy on each device, queries round-robin; 'sharded': keys split by hash. */
  deviceMode?: 'replicated' | 'sharded';
  /** Requests in flight at once, each with its own CUDA stream and staging buffers; default 4. */
  inFlight?: number;
  /** Threads per key in the query kernel (8, 16 or 32); default 8. */
  queryTile?: 8 | 16 | 32;
  /**
   * Query kernels write hit rows straight into pinned host memory over PCIe (default true); false
   * gathers rows in device memory and copies the whole block back (single and replicated tables).
   */
  directWrite?: boolean;
  /**
   * Queries longer than 1.5x this many keys are split into chunks of it, in flight together, so that
   * one chunk's transfers and host work overlap the next one's kernel (default 131072, sharded tables 0; 0: never).
   */
  queryChunk?: number;
}

/**
 * The L1 cache on the GPU (native/): 128-slot buckets with one-byte digests, LRU or LFU eviction within
 * a bucket, on one or more devices. Every call is queued to the addon's worker thread and settles a
 * promise; the event loop never waits for the GPU. Buffers passed to a call (keys, out, vectors) must
 * not be changed until its promise settles. A call's result reflects every call made before it
 * (mutations are ordered on the GPU with events).
 *
 * Results land in `out` fastest when it was made by `pinnedFloat32()`: hit rows then cross PCIe
 * straight from the kernel, with no staging copy. Where a key is missing from a batch, its row of
 * `out` is left as it was.
 */
export class CudaEmbeddingCache implements EmbeddingCache {
  readonly kind = 'cuda' as const;
  readonly dim: number;
  readonly capacity: number;
  readonly policy: CachePolicy;
  readonly devices: readonly number[];
  readonly deviceMode: 'replicated' | 'sharded';
  /** The first device's description (name, compute capability, memory). */
  readonly device: NativeDeviceInfo;

  private readonly addon: NativeAddon;
  private readonly queryChunk: number;
  private native: NativeCache | null;
  private readonly counters = { size: 0, hits: 0, misses: 0, insertions: 0, evictions: 0 };

  /** Throws HpsError NO_GPU when the addon or a GPU is missing, BAD_CONFIG on bad options. */
  static create(options: CudaCacheOptions): CudaEmbeddingCache {
    const st = loadNative();
    if (!st.ok) throw new HpsError('NO_GPU', `CudaEmbeddingCache: ${st.reason}`);
    return new CudaEmbeddingCache(st.addon, st.devices, options);
  }

  private constructor(addon: NativeAddon, deviceCount: number, o: CudaCacheOptions) {
    if (o === null || typeof o !== 'object') throw badConfig('options', o, 'an object');
    if (!Number.isInteger(o.dim) || o.dim < 1 || o.dim > 65536) throw badConfig('dim', o.dim, 'an integer in [1, 65536]');
    if (!Number.isInteger(o.capacity) || o.capacity < 1 || o.capacity > 2 ** 40) throw badConfig('capacity', o.capacity, 'an integer in [1, 2^40]');
    const policy = o.policy ?? 'lru';
    if (policy !== 'lru' && policy !== 'lfu') throw badConfig('policy', policy, "'lru' or 'lfu'");
    const devices = o.devices ?? [0];
    if (!Array.isArray(devices) || devices.length === 0) throw badConfig('devices', devices, 'a non-empty array of device ordinals');
    devices.forEach((d, i) => {
      if (!Number.isInteger(d) || d < 0 || d >= deviceCount) {
        throw badConfig(`devices[${i}]`, d, `a CUDA device ordinal in [0, ${deviceCount - 1}] (this machine has ${deviceCount} device(s))`);
      }
    });
    const mode = o.deviceMode ?? 'replicated';
    if (mode !== 'replicated' && mode !== 'sharded') throw badConfig('deviceMode', mode, "'replicated' or 'sharded'");
    const slots = o.inFlight ?? 4;
    if (!Number.isInteger(slots) || slots < 1 || slots > 64) throw badConfig('inFlight', slots, 'an integer in [1, 64]');
    const tile = o.queryTile ?? 8;
    if (tile !== 8 && tile !== 16 && tile !== 32) throw badConfig('queryTile', tile, '8, 16 or 32');
    const directWrite = o.directWrite ?? true;
    if (typeof directWrite !== 'boolean') throw badConfig('directWrite', directWrite, 'a boolean');
    // Sharded queries go to every device whole; chunking them is measured by bench/gpu/scale.ts.
    const queryChunk = o.queryChunk ?? (o.deviceMode === 'sharded' ? 0 : 131072);
    if (!Number.isInteger(queryChunk) || queryChunk < 0) throw badConfig('queryChunk', queryChunk, 'an integer >= 0');
    try {
      this.native = new addon.Cache({
        dim: o.dim, capacity: o.capacity, policy: policy === 'lfu' ? 1 : 0, devices: [...devices],
        sharded: mode === 'sharded', slots, tile, directWrite,
      });
    } catch (e) {
      throw gpuSetupError(`CudaEmbeddingCache: could not create a table of ${o.capacity} rows x ${o.dim} floats on device(s) ${devices.join(', ')}`, e);
    }
    this.addon = addon;
    this.queryChunk = queryChunk;
    this.dim = o.dim;
    this.policy = policy;
    this.devices = Object.freeze([...devices]);
    this.deviceMode = mode;
    this.capacity = this.native.capacity;
    this.device = addon.deviceInfo(devices[0]);
  }

  /**
   * A Float32Array of `length` floats in pinned host memory mapped into the GPUs. Query and pooled
   * results written into it skip the staging copy; keys and vectors in pinned memory skip it too.
   */
  pinnedFloat32(length: number): Float32Array {
    checkLength(length);
    return new Float32Array(this.addon.allocPinned(length * 4));
  }

  /** A BigInt64Array of `length` keys in pinned host memory. */
  pinnedKeys(length: number): BigInt64Array {
    checkLength(length);
    return new BigInt64Array(this.addon.allocPinned(length * 8));
  }

  async query(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array> {
    const c = this.open();
    checkKeys(keys);
    checkOut(out, keys.length, this.dim, 'keys.length');
    const n = keys.length, chunk = this.queryChunk;
    if (n === 0) return new Uint32Array(0);
    let missing: Uint32Array;
    if (chunk === 0 || n <= chunk * 1.5) {
      missing = await call(c.query(keys, out), 'query');
    } else {
      const parts: Promise<Uint32Array>[] = [];
      for (let lo = 0; lo < n; lo += chunk) {
        const hi = Math.min(n, lo + chunk);
        parts.push(c.query(keys.subarray(lo, hi), out.subarray(lo * this.dim, hi * this.dim), lo));
      }
      const got = await call(Promise.all(parts), 'query');
      missing = new Uint32Array(got.reduce((a, m) => a + m.length, 0));
      let at = 0;
      for (const m of got) { missing.set(m, at); at += m.length; }
    }
    this.counters.hits += keys.length - missing.length;
    this.counters.misses += missing.length;
    return missing;
  }

  /**
   * Pooled (sparse) lookup over CSR rows: keys[offsets[r] .. offsets[r+1]) form row r, and row r of
   * `out` (rows x dim, rows = offsets.length - 1) receives the combination of their vectors, reduced on
   * the GPU: sum of w_k v_k, divided by sum of w_k (mean) or sqrt(sum of w_k^2) (sqrtn), with w_k = 1
   * without weights. Duplicate keys are looked up once. Resolves to the ascending positions (into
   * `keys`) that missed: their vectors are left out of the sum but their weights count in the divisor,
   * so the caller completes row r by adding w_k v_k / divisor_r for each missing k.
   */
  async queryPooled(keys: BigInt64Array, offsets: Uint32Array, weights: Float32Array | null, combiner: Combiner, out: Float32Array): Promise<Uint32Array> {
    const c = this.open();
    checkKeys(keys);
    // The GPU reads rows by these offsets: checked here too (cheaply, once per call), as an invariant.
    assert(offsets instanceof Uint32Array && offsets.length >= 1 && offsets[0] === 0 && offsets[offsets.length - 1] === keys.length, `queryPooled: offsets must be a Uint32Array from 0 to keys.length (${keys.length})`);
    for (let r = 1; r < offsets.length; r++) assert(offsets[r] >= offsets[r - 1], `queryPooled: offsets[${r}] = ${offsets[r]} is below offsets[${r - 1}] = ${offsets[r - 1]}`);
    assert(weights === null || (weights instanceof Float32Array && weights.length === keys.length), 'queryPooled: weights must be null or one float per key');
    assert(combiner in COMBINERS, `queryPooled: unknown combiner ${String(combiner)}`);
    const rows = offsets.length - 1;
    checkOut(out, rows, this.dim, 'offsets.length - 1');
    if (rows === 0) return new Uint32Array(0);
    const missing = await call(c.pooled(keys, offsets, weights, COMBINERS[combiner], out), 'queryPooled');
    this.counters.hits += keys.length - missing.length;
    this.counters.misses += missing.length;
    return missing;
  }

  async insert(keys: BigInt64Array, vectors: Float32Array): Promise<void> {
    const c = this.open();
    checkKeys(keys);
    checkVectors(vectors, keys.length, this.dim);
    if (keys.length === 0) return;
    const [added, , evicted] = await call(c.insert(keys, vectors), 'insert');
    this.counters.size += added - evicted;
    this.counters.insertions += added;
    this.counters.evictions += evicted;
  }

  async update(keys: BigInt64Array, vectors: Float32Array): Promise<number> {
    const c = this.open();
    checkKeys(keys);
    checkVectors(vectors, keys.length, this.dim);
    if (keys.length === 0) return 0;
    return call(c.update(keys, vectors), 'update');
  }

  async erase(keys: BigInt64Array): Promise<number> {
    const c = this.open();
    checkKeys(keys);
    if (keys.length === 0) return 0;
    const erased = await call(c.erase(keys), 'erase');
    this.counters.size -= erased;
    return erased;
  }

  async dump(): Promise<BigInt64Array> {
    return call(this.open().dump(), 'dump');
  }

  async clear(): Promise<void> {
    await call(this.open().clear(), 'clear');
    this.counters.size = 0;
  }

  /**
   * Host seconds that sharding has cost queries so far: every device gets every key and answers its
   * own, so the host's only work is merging the devices' miss flags (0 for one device or replicas).
   */
  get shardingSeconds(): number {
    return this.native?.shardingSeconds ?? 0;
  }

  stats(): CacheStats {
    return { capacity: this.capacity, ...this.counters };
  }

  /** Waits for calls in flight, then frees the GPU memory. Later calls fail with CLOSED. */
  async close(): Promise<void> {
    const c = this.native;
    this.native = null;
    if (c) await c.close();
  }

  private open(): NativeCache {
    if (!this.native) throw new HpsError('CLOSED', 'CudaEmbeddingCache: the cache was closed');
    return this.native;
  }
}

async function call<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new HpsError('IO', `CudaEmbeddingCache.${what}: the GPU request failed: ${(e as Error).message}`, { cause: e });
  }
}

function badConfig(key: string, value: unknown, expected: string): HpsError {
  return new HpsError('BAD_CONFIG', `CudaEmbeddingCache options.${key}: got ${describeValue(value)}, expected ${expected}`);
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > 2 ** 33) {
    throw new HpsError('BAD_OUTPUT', `length: expected an integer in [0, 2^33], got ${describeValue(length)}`);
  }
}

/*
 * Calls come from the pipeline with what ParameterServer checked at the public boundary: a wrong type
 * or size here is a bug, asserted (the addon would read or write past a buffer). The key-count limit
 * of the addon is a real limit of this cache, an HpsError.
 */
function checkKeys(keys: unknown): asserts keys is BigInt64Array {
  assert(keys instanceof BigInt64Array, 'CudaEmbeddingCache: keys must be a BigInt64Array (normalizeKeys)');
  if (keys.length >= 2 ** 31) throw new HpsError('BAD_KEY', `keys: the GPU cache takes at most 2^31 - 1 keys a call, got ${keys.length}`);
}

function checkOut(out: unknown, rows: number, dim: number, what: string): asserts out is Float32Array {
  assert(out instanceof Float32Array && out.length >= rows * dim, `CudaEmbeddingCache: out must be a Float32Array of at least ${what} x dim = ${rows} x ${dim} = ${rows * dim} floats`);
}

function checkVectors(vectors: unknown, n: number, dim: number): asserts vectors is Float32Array {
  assert(vectors instanceof Float32Array && vectors.length === n * dim, `CudaEmbeddingCache: vectors must be a Float32Array of keys.length x dim = ${n} x ${dim} = ${n * dim} floats`);
}

