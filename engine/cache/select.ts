import { HpsError } from '../errors.js';
import { loadNative, type NativeStatus } from '../native.js';
import type { CacheBackend, CachePolicy } from '../config/types.js';
import type { EmbeddingCache } from './types.js';
import { CudaEmbeddingCache } from './cuda-cache.js';
import { WasmEmbeddingCache } from './wasm-cache.js';

export interface L1Choice {
  backend: 'cuda' | 'wasm';
  /** One line saying why, for the log. */
  reason: string;
}

/**
 * Which L1 cache to build: `auto` picks CUDA when the addon loads and sees a GPU, else WASM; `cuda`
 * and `wasm` (config `l1Backend`) force one, and a forced CUDA with no usable GPU is an error.
 * `probe` is the addon loader (a parameter so that the choice can be checked with any probe result).
 */
export function chooseL1Backend(requested: CacheBackend, probe: () => NativeStatus = loadNative): L1Choice {
  if (requested === 'wasm') return { backend: 'wasm', reason: 'L1 cache: WASM (l1Backend is "wasm" in the config)' };
  if (requested !== 'auto' && requested !== 'cuda') {
    throw new HpsError('BAD_CONFIG', `l1Backend: got ${String(requested)}, expected "auto", "cuda" or "wasm"`);
  }
  const st = probe();
  if (st.ok) {
    const d = st.device0;
    const why = requested === 'cuda' ? 'l1Backend is "cuda"' : 'a GPU was found and the addon loaded';
    return { backend: 'cuda', reason: `L1 cache: CUDA on ${d.name} (sm_${d.major}${d.minor}, ${st.devices} device(s)): ${why}` };
  }
  if (requested === 'cuda') {
    throw new HpsError('NO_GPU', `l1Backend is "cuda" but the CUDA cache cannot be used: ${st.reason}`);
  }
  return { backend: 'wasm', reason: `L1 cache: WASM, because ${st.reason}` };
}

export interface L1Options {
  dim: number;
  capacity: number;
  policy: CachePolicy;
  backend: CacheBackend;
  /** `deployed_device_list` and how tables spread over it (CUDA only). */
  devices?: number[];
  deviceMode?: 'replicated' | 'sharded';
  /** Where the one line saying which cache was picked, and why, goes; default console.info. */
  log?: (line: string) => void;
}

/** Builds the L1 cache the choice above names, logging one line. */
export function createL1Cache(o: L1Options, probe: () => NativeStatus = loadNative): EmbeddingCache {
  const choice = chooseL1Backend(o.backend, probe);
  (o.log ?? console.info)(`hps: ${choice.reason}`);
  if (choice.backend === 'cuda') {
    return CudaEmbeddingCache.create({ dim: o.dim, capacity: o.capacity, policy: o.policy, devices: o.devices, deviceMode: o.deviceMode });
  }
  return WasmEmbeddingCache.create({ dim: o.dim, capacity: o.capacity, policy: o.policy });
}
