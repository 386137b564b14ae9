import type { RowChunk } from './source.js';

/** Bytes of rows per bucket: small enough that reading one bucket's rows in any order stays in the CPU caches and TLB. */
const BUCKET_BYTES = 2 << 20;

/**
 * Regroups a chunk's rows, in place, so that writing them in key order reads memory almost in order.
 * An import sorted by an index order alone reads the source row of each put at random: in a profile of
 * a 2^20 x 64 import that read (a cache and TLB miss inside LMDB's value copy) cost as much as the rest
 * of the put. Here the rows (and keys) are swapped into buckets of their key-order rank (about 2 MiB
 * each, buckets in key order, rows within a bucket in no order; an American flag sort pass: each row
 * moves at most once into its bucket), so that the puts then read each bucket's rows at random only
 * within those 2 MiB. No second copy of the rows: 4 bytes a row besides `order`.
 *
 * `order` (the key order of the chunk: order[j] is the position of the j-th smallest key) is rewritten
 * to the positions after the regrouping.
 */
export function bucketByKeyOrder(chunk: RowChunk, dim: number, order: Uint32Array): void {
  const n = chunk.keys.length;
  const bucketRows = Math.max(1, Math.floor(BUCKET_BYTES / (dim * 4)));
  const buckets = Math.ceil(n / bucketRows);
  // rankAt[p]: the key-order rank of the row now at position p.
  const rankAt = new Uint32Array(n);
  for (let j = 0; j < n; j++) rankAt[order[j]] = j;
  // Keys move as two 32-bit halves (reading a BigInt64Array element makes a BigInt); rows as int32
  // words, which copy the float bits exactly (NaN payloads included).
  const halves = new Uint32Array(chunk.keys.buffer, chunk.keys.byteOffset, 2 * n);
  const words = new Int32Array(chunk.vectors.buffer, chunk.vectors.byteOffset, n * dim);
  const spare = new Int32Array(dim);
  // Positions of bucket c below fill[c] hold rows of c already.
  const fill = new Uint32Array(buckets);
  for (let c = 0; c < buckets; c++) fill[c] = c * bucketRows;
  for (let b = 0; b < buckets; b++) {
    const end = Math.min(n, (b + 1) * bucketRows);
    for (let p = fill[b]; p < end; p++) {
      for (;;) {
        const target = (rankAt[p] / bucketRows) | 0;
        if (target === b) break;
        // Bucket `target` has a position not yet holding one of its rows, since this row is outside it.
        let q = fill[target];
        while (((rankAt[q] / bucketRows) | 0) === target) q++;
        fill[target] = q + 1;
        swapRows(words, dim, p, q, spare);
        const h0 = halves[2 * p], h1 = halves[2 * p + 1];
        halves[2 * p] = halves[2 * q];
        halves[2 * p + 1] = halves[2 * q + 1];
        halves[2 * q] = h0;
        halves[2 * q + 1] = h1;
        const r = rankAt[p];
        rankAt[p] = rankAt[q];
        rankAt[q] = r;
      }
    }
  }
  for (let p = 0; p < n; p++) order[rankAt[p]] = p;
}

function swapRows(words: Int32Array, dim: number, p: number, q: number, spare: Int32Array): void {
  const a = p * dim;
  const b = q * dim;
  for (let k = 0; k < dim; k++) spare[k] = words[a + k];
  for (let k = 0; k < dim; k++) words[a + k] = words[b + k];
  for (let k = 0; k < dim; k++) words[b + k] = spare[k];
}
