import type { WasmEmbeddingCache } from '../cache/wasm-cache.js';
import type { TierCounts } from './counts.js';
import { fillRows } from './compact.js';
import { fetchAndCache, insertFound, resolveBelowL1, type Defer } from './serve.js';
import { drive, driveSync } from './steps.js';
import type { TableTiers } from './tiers.js';

/**
 * The small-batch inline path over a WASM L1 (requests of at most `l1.smallBatchKeys` keys): dedup, one
 * L1 probe per distinct key and one copy per row in one kernel call, then one copy of the request's
 * rows to `out`. When every key hits, nothing is allocated and no JavaScript runs per key. The distinct
 * keys L1 missed follow serveSteps's rules (lower tiers, defaults, L1 insertion synchronous below the
 * hit-rate threshold and deferred at or above it, approximate mode): their rows are fetched straight
 * into the L1 instance's scratch and placed at every position of their keys. `counts` is reset and
 * filled (`unique` counts distinct keys, as everywhere).
 */
export function serveSmall(
  tiers: TableTiers, l1: WasmEmbeddingCache, keys: BigInt64Array, out: Float32Array, defer: Defer, counts: TierCounts,
): void {
  resetCounts(counts);
  const n = keys.length;
  const epoch = Atomics.load(tiers.epoch, 0);
  const t = process.hrtime.bigint();
  const m = l1.serveBegin(keys);
  counts.l1Ns = Number(process.hrtime.bigint() - t);
  const distinct = l1.serveDistinct();
  counts.unique = distinct;
  counts.l1Hits = distinct - m;
  if (m === 0) {
    l1.serveFinish(out, n, 0);
    return;
  }
  const cache = tiers.l1!;
  // The scratch is reused by the next call on the cache (an insertion included): keep copies.
  const missedKeys = l1.serveMissedKeys(m).slice();
  const rows = l1.serveMissedRows(m);
  const hitRate = counts.l1Hits / distinct;
  const below = (k: BigInt64Array, o: Float32Array, c: TierCounts) => resolveBelowL1(tiers, k, o, c, defer);
  if (tiers.approximate && hitRate >= tiers.hitRateThreshold) {
    // HPS's approximate mode: defaults now, fetch and cache the misses afterwards.
    fillRows(rows, everyRow(m), tiers.dim, tiers.defaultValue);
    counts.defaults = m;
    l1.serveFinish(out, n, m);
    defer(() => drive(fetchAndCache(tiers, epoch, cache, missedKeys, below)));
    return;
  }
  const notFound = below(missedKeys, rows, counts);
  l1.serveFinish(out, n, m);
  const fetched = rows.slice();
  if (hitRate < tiers.hitRateThreshold) driveSync(insertFound(tiers, epoch, cache, missedKeys, fetched, notFound));
  else defer(() => drive(insertFound(tiers, epoch, cache, missedKeys, fetched, notFound)));
}

function resetCounts(c: TierCounts): void {
  c.unique = 0; c.l1Hits = 0; c.l2Hits = 0; c.l3Hits = 0; c.defaults = 0; c.l1Ns = 0; c.l2Ns = 0; c.l3Ns = 0;
}

function everyRow(n: number): Uint32Array {
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  return all;
}
