import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The only module that loads the CUDA addon (build/hps_cuda.node, built by `npm run build:native`).
 * Everything else goes through the typed interface below. Loading never throws: `loadNative()` says
 * why the addon is unusable (not built, fails to load, no CUDA device) so that the engine can fall
 * back to the WASM cache with one line saying why.
 */

export interface NativeCacheOptions {
  dim: number;
  capacity: number;
  /** 0: LRU, 1: LFU. */
  policy: 0 | 1;
  /** CUDA device ordinals, one table copy each (a device may repeat). */
  devices: number[];
  /** false: every device holds the whole table (replicas); true: the key space is split by hash. */
  sharded: boolean;
  /** Requests in flight (each with its own stream and staging buffers on every device). */
  slots: number;
  /** Threads per key in the query kernel: 8, 16 or 32. */
  tile: 8 | 16 | 32;
  /** Query kernels write hit rows straight into pinned host memory (else device rows + one copy back). */
  directWrite: boolean;
}

/** The raw addon cache. Buffers passed in must stay unchanged until the returned promise settles. */
export interface NativeCache {
  readonly capacity: number;
  /** Host seconds spent on sharded queries' own work (merging the devices' miss flags), summed. */
  readonly shardingSeconds: number;
  /** `base` is added to every missing position (when the call is one chunk of a larger query). */
  query(keys: BigInt64Array, out: Float32Array, base?: number): Promise<Uint32Array>;
  /** combiner 0: sum, 1: mean, 2: sqrtn. */
  pooled(keys: BigInt64Array, offsets: Uint32Array, weights: Float32Array | null, combiner: 0 | 1 | 2, out: Float32Array): Promise<Uint32Array>;
  /** Resolves to [new keys, replaced keys, evicted keys]. */
  insert(keys: BigInt64Array, vectors: Float32Array): Promise<[number, number, number]>;
  update(keys: BigInt64Array, vectors: Float32Array): Promise<number>;
  erase(keys: BigInt64Array): Promise<number>;
  dump(): Promise<BigInt64Array>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface NativeDeviceInfo {
  name: string;
  major: number;
  minor: number;
  multiProcessors: number;
  memoryBytes: number;
  runtimeVersion: number;
  driverVersion: number;
}

export interface NativeAddon {
  Cache: new (options: NativeCacheOptions) => NativeCache;
  deviceCount(): number;
  deviceInfo(device: number): NativeDeviceInfo;
  /** Pinned host memory mapped into every device; freed when the ArrayBuffer is collected. */
  allocPinned(bytes: number): ArrayBuffer;
  /** Bucket (within one table copy of `buckets` buckets) and shard of each key. */
  placement(keys: BigInt64Array, buckets: number, shards: number): { bucket: Uint32Array; shard: Uint32Array };
  readonly bucketSlots: number;
}

export type NativeStatus =
  | { ok: true; addon: NativeAddon; path: string; devices: number; device0: NativeDeviceInfo }
  | { ok: false; reason: string; path: string };

/** Where the addon is looked for: HPS_NATIVE_ADDON, else build/hps_cuda.node at the package root. */
export function nativeAddonPath(): string {
  return process.env.HPS_NATIVE_ADDON ?? fileURLToPath(new URL('../../build/hps_cuda.node', import.meta.url));
}

let status: NativeStatus | undefined;

/** Loads the addon once per thread and reports whether a GPU can be used. */
export function loadNative(): NativeStatus {
  if (status) return status;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    status = { ok: false, path, reason: `the CUDA addon is not built (${path} is missing; \`npm run build:native\` needs nvcc)` };
    return status;
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    status = { ok: false, path, reason: `the CUDA addon at ${path} failed to load: ${(e as Error).message}` };
    return status;
  }
  const devices = addon.deviceCount();
  if (devices === 0) {
    status = { ok: false, path, reason: 'the CUDA addon loaded but no CUDA device is available (no GPU or no driver)' };
    return status;
  }
  status = { ok: true, addon, path, devices, device0: addon.deviceInfo(0) };
  return status;
}
