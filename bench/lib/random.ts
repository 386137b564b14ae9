/**
 * Seeded random data for the benchmark workloads: a small PRNG, distinct 64-bit keys, random float32
 * rows (never zeros) and query streams drawn from Zipf(s) by inverse CDF or uniformly. Everything is a
 * typed array; nothing here makes a BigInt per key.
 */

/** mulberry32: a 32-bit seeded PRNG, enough for workload generation. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` distinct non-negative int64 keys spread over the whole 63-bit range: the low half is a bijection
 * of the index (multiplication by an odd constant modulo 2^32), so keys are distinct for n <= 2^32, and
 * the high half is random.
 */
export function distinctKeys(n: number, seed: number): BigInt64Array {
  const rand = seededRandom(seed);
  const keys = new BigInt64Array(n);
  const halves = new Uint32Array(keys.buffer);
  for (let i = 0; i < n; i++) {
    halves[2 * i] = Math.imul(i, 0x9e3779b1) >>> 0;
    halves[2 * i + 1] = (rand() * 0x80000000) >>> 0;
  }
  return keys;
}

/** Random float32 values in [-1, 1), none of them zero. */
export function randomRows(count: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rand() * 2 - 1 || 0.5;
  return out;
}

/**
 * Zipf(s) over ranks 1..n by inverse CDF: a table of cumulative weights and a binary search per draw.
 * Rank r maps to row `rankToRow[r - 1]`, a seeded permutation, so that the hot rows are scattered over
 * the table rather than being its first rows.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  private readonly rankToRow: Int32Array;
  private readonly rand: () => number;

  constructor(readonly n: number, readonly exponent: number, seed: number) {
    this.rand = seededRandom(seed);
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 1; r <= n; r++) {
      sum += 1 / Math.pow(r, exponent);
      this.cdf[r - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cdf[i] /= sum;
    this.rankToRow = shuffledIndex(n, this.rand);
  }

  /** Rank of a draw, 1..n (1 is the most frequent). */
  nextRank(): number {
    const u = this.rand();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  /** Row indices of `count` draws. */
  rows(count: number): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.rankToRow[this.nextRank() - 1];
    return out;
  }
}

/** Row indices of `count` uniform draws over n rows. */
export function uniformRows(n: number, count: number, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(rand() * n);
  return out;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
export function shuffledIndex(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
