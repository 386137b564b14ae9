/** Seeded random data for the host-tier tests: 64-bit keys (negative ones too) and non-zero rows. */
import { rng } from './random.js';

export { rng };

/** `n` distinct random int64 keys (full 64-bit range, about half negative). */
export function randomKeys(rand: () => number, n: number, avoid?: Set<bigint>): BigInt64Array {
  const keys = new BigInt64Array(n);
  const halves = new Uint32Array(keys.buffer);
  const seen = new Set<bigint>(avoid);
  for (let i = 0; i < n; i++) {
    do {
      halves[2 * i] = (rand() * 4294967296) >>> 0;
      halves[2 * i + 1] = (rand() * 4294967296) >>> 0;
    } while (seen.has(keys[i]));
    seen.add(keys[i]);
  }
  return keys;
}

/** n x dim random floats in [-1, 1), never exactly zero. */
export function randomRows(rand: () => number, n: number, dim: number): Float32Array {
  const rows = new Float32Array(n * dim);
  for (let i = 0; i < rows.length; i++) rows[i] = (rand() * 2 - 1) || 0.5;
  return rows;
}

/** Reference model: key -> its row (a copy). */
export class RowModel {
  readonly map = new Map<bigint, Float32Array>();
  constructor(readonly dim: number) {}
  insert(keys: BigInt64Array, rows: Float32Array): void {
    for (let i = 0; i < keys.length; i++) this.map.set(keys[i], rows.slice(i * this.dim, (i + 1) * this.dim));
  }
  erase(keys: BigInt64Array): number {
    let n = 0;
    for (const k of keys) if (this.map.delete(k)) n++;
    return n;
  }
}

/**
 * Checks lookup results against the model: returns a description of the first difference, or null.
 * `out` rows of misses must be zero.
 */
export function compare(model: RowModel, keys: BigInt64Array, out: Float32Array, missing: Uint32Array, outRowOffset = 0): string | null {
  const dim = model.dim;
  let m = 0;
  for (let i = 0; i < keys.length; i++) {
    const want = model.map.get(keys[i]);
    const isMiss = m < missing.length && missing[m] === i;
    if (isMiss) m++;
    if (!want !== isMiss) return `key ${keys[i]} at position ${i}: ${want ? 'reported missing but held' : 'found but not held'}`;
    const base = (outRowOffset + i) * dim;
    for (let j = 0; j < dim; j++) {
      const got = out[base + j];
      const expected = want ? want[j] : 0;
      if (!Object.is(got, expected)) return `key ${keys[i]} at position ${i}, element ${j}: got ${got}, expected ${expected}`;
    }
  }
  if (m !== missing.length) return `missing has ${missing.length} entries, ${m} expected (not ascending or out of range)`;
  return null;
}
