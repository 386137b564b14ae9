// What the GPU benchmarks through ParameterServer share: a model whose L1 is a CUDA cache of a chosen
// layout, filled with rows whose values say which row they are, batches of keys the cache holds, and
// the check of looked-up rows against the inserted ones.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ParameterServer } from '../../engine/index.js';
import { CudaEmbeddingCache } from '../../engine/cache/cuda-cache.js';

export const dim = 128;
/** Rows inserted per call while filling, and keys per capacity probe. */
export const CHUNK = 1 << 20;

export interface Layout { name: string; devices: number[]; deviceMode: 'replicated' | 'sharded'; capacity: number; fill: number; queryChunk?: number }

let seed = 0x9e3779b9;
function next32(): number { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; }
/** Key of row i: distinct, random-looking. */
export const keyOf = (i: number) => (BigInt(i) * 0x9e3779b97f4a7c15n + 0x1234567n) & 0x7fffffffffffffffn;
/** Value of row i, column c: column 0 says the row, the rest a pattern that changes with i. */
export const valueOf = (i: number, c: number) => (c === 0 ? i : ((Math.imul(i & 0xffff, 2654435761) ^ Math.imul(c, 40503)) >>> 12) / 1048576);
export const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** Opens a model whose table's L1 is a CUDA cache of `layout`, filled with rows 0..fill-1. */
export async function openFilled(layout: Layout, dir: string): Promise<{ ps: ParameterServer; cache: CudaEmbeddingCache; fillSeconds: number }> {
  // A small table on disk gives the model its L1; the CUDA cache itself is sized and filled here.
  const folder = join(dir, layout.name.replace(/\W+/g, '-'));
  mkdirSync(folder, { recursive: true });
  const keys = BigInt64Array.from({ length: 64 }, (_, i) => -1n - BigInt(i));
  writeFileSync(join(folder, 'key'), new Uint8Array(keys.buffer));
  writeFileSync(join(folder, 'emb_vector'), new Uint8Array(new Float32Array(64 * dim).fill(0.5).buffer));
  let cache: CudaEmbeddingCache | null = null;
  const ps = await ParameterServer.open({
    keyType: 'int64',
    volatileDb: { type: 'hash_map', numPartitions: 2 },
    workerThreads: 0,
    models: [{ name: 'm', tables: [{ name: 't', dim, sparseFile: folder }] }],
  }, {
    progress: false, log: () => {},
    l1Cache: (spec) => (cache = CudaEmbeddingCache.create({ dim: spec.dim, capacity: layout.capacity, devices: layout.devices, deviceMode: layout.deviceMode, queryChunk: layout.queryChunk })),
  });
  const c = cache as CudaEmbeddingCache | null;
  if (!c) throw new Error('the L1 cache was not built');
  const t0 = performance.now();
  const rows = c.pinnedFloat32(CHUNK * dim);
  const ks = c.pinnedKeys(CHUNK);
  for (let i = 0; i < CHUNK; i++) for (let d = 1; d < dim; d++) rows[i * dim + d] = valueOf(i, d);
  for (let first = 0; first < layout.fill; first += CHUNK) {
    const n = Math.min(CHUNK, layout.fill - first);
    for (let i = 0; i < n; i++) {
      ks[i] = keyOf(first + i);
      rows[i * dim] = first + i;
      if (((first + i) & 0xffff) !== (i & 0xffff)) for (let d = 1; d < dim; d++) rows[i * dim + d] = valueOf(first + i, d);
    }
    await c.insert(ks.subarray(0, n), rows.subarray(0, n * dim));
  }
  return { ps, cache: c, fillSeconds: (performance.now() - t0) / 1000 };
}

/**
 * `n` distinct keys in random order that the cache holds (a full bucket evicts a few of the inserted
 * rows, so those are drawn again), and the row index of each.
 */
export async function batchOf(cache: CudaEmbeddingCache, n: number, fill: number): Promise<{ keys: BigInt64Array; rows: Int32Array }> {
  const rows = new Int32Array(n);
  const seen = new Set<number>();
  const draw = () => {
    let r: number;
    do r = next32() % fill; while (seen.has(r));
    seen.add(r);
    return r;
  };
  for (let i = 0; i < n; i++) rows[i] = draw();
  const keys = BigInt64Array.from(rows, (r) => keyOf(r));
  const probe = cache.pinnedFloat32(n * dim);
  for (let round = 0; round < 20; round++) {
    const missing = await cache.query(keys, probe);
    if (missing.length === 0) return { keys, rows };
    for (const m of missing) {
      rows[m] = draw();
      keys[m] = keyOf(rows[m]);
    }
  }
  throw new Error('could not draw a batch of cached keys');
}

/** Throws unless `out` holds, row by row, the inserted values of `rows`. */
export function check(out: Float32Array, rows: Int32Array, what: string): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    for (let d = 0; d < dim; d++) {
      const want = Math.fround(valueOf(r, d));
      if (out[i * dim + d] !== want) throw new Error(`${what}: row ${i} (key of row ${r}) column ${d}: ${out[i * dim + d]}, expected ${want}`);
    }
  }
}

/** Rows of 0..fill-1 that the cache still holds, probed CHUNK keys at a time. */
export async function rowsHeld(ps: ParameterServer, cache: CudaEmbeddingCache, fill: number): Promise<number> {
  let found = 0;
  const probe = ps.allocOutput('m', 't', CHUNK);
  for (let first = 0; first < fill; first += CHUNK) {
    const n = Math.min(CHUNK, fill - first);
    const ks = BigInt64Array.from({ length: n }, (_, i) => keyOf(first + i));
    const m = await cache.query(ks, probe.subarray(0, n * dim));
    found += n - m.length;
  }
  return found;
}
