import type { Combiner } from './kernels-wasm.js';

/**
 * Completes rows pooled by the L1 cache (PoolingEmbeddingCache.queryPooled), which left out the keys it
 * missed: for each missed position k (ascending) in CSR row r, adds w_k x v_k / divisor_r to row r of
 * `out`, with the divisor of the whole row (hits and misses), as the cache divided the hits. The
 * vector of missing[m] is row inverse[m] of `rows`.
 */
export function addMissedRows(
  out: Float32Array, offsets: Uint32Array, weights: Float32Array | null, combiner: Combiner,
  missing: Uint32Array, inverse: Uint32Array, rows: Float32Array, dim: number,
): void {
  let r = 0;
  let scaleRow = -1;
  let scale = 1;
  for (let m = 0; m < missing.length; m++) {
    const k = missing[m];
    while (offsets[r + 1] <= k) r++;
    if (scaleRow !== r) {
      scale = scaleOf(offsets[r], offsets[r + 1], weights, combiner);
      scaleRow = r;
    }
    const w = (weights ? weights[k] : 1) * scale;
    const src = inverse[m] * dim;
    const dst = r * dim;
    for (let d = 0; d < dim; d++) out[dst + d] += w * rows[src + d];
  }
}

/** 1 / divisor of a row: 1 (sum), 1 / sum of w (mean), 1 / sqrt(sum of w^2) (sqrtn); 0 for a zero divisor. */
function scaleOf(begin: number, end: number, weights: Float32Array | null, combiner: Combiner): number {
  if (combiner === 'sum') return 1;
  let sum = 0;
  for (let k = begin; k < end; k++) {
    const w = weights ? weights[k] : 1;
    sum += combiner === 'mean' ? w : w * w;
  }
  const divisor = combiner === 'mean' ? sum : Math.sqrt(sum);
  return divisor === 0 ? 0 : 1 / divisor;
}
