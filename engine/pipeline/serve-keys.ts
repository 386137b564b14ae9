import type { PipelineKernels } from './kernels-wasm.js';
import { serveUnique, type Served } from './serve.js';
import type { TableTiers } from './tiers.js';

/**
 * serveUnique for keys that may repeat: deduplicates them, serves the distinct keys into the kernels'
 * staging memory and scatters the rows back to `out` in the keys' order. Synchronous, so the staging
 * memory is never shared between requests. `notFound` holds positions into `keys`.
 */
export function serveKeys(
  tiers: TableTiers, kernels: PipelineKernels, keys: BigInt64Array, out: Float32Array,
  defer: (work: () => void) => void,
): Served {
  const { unique, inverse } = kernels.dedup(keys);
  // No repeats: dedup keeps the first occurrences in order, so the distinct keys are `keys` itself.
  if (unique.length === keys.length) return serveUnique(tiers, keys, out, defer);
  const rows = kernels.stageRows(unique.length, keys.length, tiers.dim);
  const served = serveUnique(tiers, unique, rows, defer);
  kernels.scatterStaged(inverse, out);
  return { counts: served.counts, notFound: positionsOf(served.notFound, inverse, unique.length) };
}

/** The positions whose distinct key (by `inverse`) is in the ascending list `uniqueIndexes`. */
export function positionsOf(uniqueIndexes: Uint32Array, inverse: Uint32Array, uniqueCount: number): Uint32Array {
  if (uniqueIndexes.length === 0) return uniqueIndexes;
  const marked = new Uint8Array(uniqueCount);
  for (const u of uniqueIndexes) marked[u] = 1;
  const positions: number[] = [];
  for (let i = 0; i < inverse.length; i++) if (marked[inverse[i]]) positions.push(i);
  return Uint32Array.from(positions);
}
