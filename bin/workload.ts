import type { ParameterServer, TableStats } from '../engine/index.js';

export interface ZipfRun {
  model: string;
  table: string;
  /** Keys to draw from: rank r of the Zipf distribution is keys[r]. */
  keys: BigInt64Array;
  dim: number;
  batch: number;
  seconds: number;
  seed: number;
}

/**
 * Batched lookups of Zipf(1.05)-distributed keys for `seconds`, as an inference service would send
 * them; keys are drawn before timing (a pool of 32 batches, cycled). Returns lookups/s and keys/s.
 */
export async function zipfLookups(ps: ParameterServer, r: ZipfRun): Promise<{ lookupsPerSecond: number; keysPerSecond: number }> {
  const sample = zipfSampler(r.keys.length, 1.05, xorshift(r.seed));
  const batches = Array.from({ length: 32 }, () => {
    const batch = new BigInt64Array(r.batch);
    for (let i = 0; i < batch.length; i++) batch[i] = r.keys[sample()];
    return batch;
  });
  const out = new Float32Array(r.batch * r.dim);
  let lookups = 0;
  const started = performance.now();
  while (performance.now() - started < r.seconds * 1000) {
    await ps.lookup(r.model, r.table, batches[lookups % batches.length], out);
    lookups++;
  }
  const s = (performance.now() - started) / 1000;
  return { lookupsPerSecond: lookups / s, keysPerSecond: (lookups * r.batch) / s };
}

/** One table's stats as a few aligned lines: hit rate per tier, then latency per stage. */
export function formatStats(s: TableStats): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `${s.model}/${s.table}: ${s.lookups} lookups, ${s.keys} keys (${s.uniqueKeys} distinct per request, summed)`,
    `  L1 ${s.l1Cache ? `${s.l1Cache.kind} cache, ${s.l1Cache.size}/${s.l1Cache.capacity} rows` : 'off'}: ${s.l1.hits} hits, hit rate ${pct(s.l1.hitRate)}`,
    `  L2 ${s.l2Arena ? `host arena, ${s.l2Arena.size} rows, ${(s.l2Arena.bytes / 2 ** 20).toFixed(0)} MiB` : 'off'}: ${s.l2.hits} hits, hit rate ${pct(s.l2.hitRate)} of L1 misses`,
    `  L3: ${s.l3.hits} hits, hit rate ${pct(s.l3.hitRate)} of L2 misses; ${s.defaults} keys found nowhere (default vector)`,
  ];
  for (const [stage, l] of Object.entries(s.latency)) {
    if (l.count > 0) lines.push(`  ${stage.padEnd(6)} p50 ${l.p50Us} us, p99 ${l.p99Us} us, max ${l.maxUs} us (${l.count} samples)`);
  }
  return lines;
}

/** Ranks 0..n-1 drawn with P(r) proportional to 1/(r+1)^s, by binary search over the cumulative weights. */
function zipfSampler(n: number, s: number, next: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / Math.pow(r + 1, s);
  return () => {
    const u = (next() / 4294967296) * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}
