import type { TableTiers, WriteTier } from './tiers.js';
import { emptyCounts, type TierCounts } from './counts.js';
import { pickKeys, pickRows, placeRows, composePositions, fillRows } from './compact.js';

/** What serving a set of distinct keys did: per-tier counts, and the positions found in no tier. */
export interface Served {
  counts: TierCounts;
  /** Ascending positions (into the keys served) answered with the default vector. */
  notFound: Uint32Array;
}

const NONE = new Uint32Array(0);

/**
 * Runs the lookup pipeline of DESIGN.md over unique keys, writing row i of `out` for keys[i]: L1, then
 * L2 and L3 for what L1 missed, then the default vector; fetched rows go into L1 (synchronously when the
 * batch's L1 hit rate is below the threshold, else deferred off the request path) and, with
 * `cacheMissedEmbeddings`, L3 hits into L2. `defer` takes the deferred work (see DeferredWork).
 */
export function serveUnique(
  tiers: TableTiers,
  keys: BigInt64Array,
  out: Float32Array,
  defer: (work: () => void) => void,
): Served {
  const counts = emptyCounts();
  counts.unique = keys.length;
  if (keys.length === 0) return { counts, notFound: NONE };
  const epoch = Atomics.load(tiers.epoch, 0);
  const cacheFound = (tier: WriteTier, k: BigInt64Array, rows: Float32Array, notFound: Uint32Array) =>
    insertFound(tiers, epoch, tier, k, rows, notFound);
  if (!tiers.l1) return { counts, notFound: resolveBelowL1(tiers, keys, out, counts, cacheFound, defer) };

  const t = process.hrtime.bigint();
  const missed = tiers.l1.lookup(keys, out);
  counts.l1Ns = Number(process.hrtime.bigint() - t);
  counts.l1Hits = keys.length - missed.length;
  if (missed.length === 0) return { counts, notFound: NONE };

  const hitRate = counts.l1Hits / keys.length;
  const l1 = tiers.l1;
  const missedKeys = pickKeys(keys, missed);
  if (tiers.approximate && hitRate >= tiers.hitRateThreshold) {
    // HPS's approximate mode: answer with defaults now, fetch and cache the misses afterwards.
    fillRows(out, missed, tiers.dim, tiers.defaultValue);
    counts.defaults = missed.length;
    defer(() => {
      const rows = new Float32Array(missed.length * tiers.dim);
      const notFound = resolveBelowL1(tiers, missedKeys, rows, emptyCounts(), cacheFound, defer);
      cacheFound(l1, missedKeys, rows, notFound);
    });
    return { counts, notFound: missed };
  }

  const rows = new Float32Array(missed.length * tiers.dim);
  const notFound = resolveBelowL1(tiers, missedKeys, rows, counts, cacheFound, defer);
  placeRows(rows, missed, out, tiers.dim);
  if (hitRate < tiers.hitRateThreshold) cacheFound(l1, missedKeys, rows, notFound);
  else defer(() => cacheFound(l1, missedKeys, rows, notFound));
  return { counts, notFound: composePositions(missed, notFound) };
}

/**
 * L2, then L3, then defaults, for keys not in L1. Returns the ascending positions (into `keys`) found
 * in no tier, so that only real rows are cached above.
 */
function resolveBelowL1(
  tiers: TableTiers,
  keys: BigInt64Array,
  out: Float32Array,
  counts: TierCounts,
  cacheFound: (tier: WriteTier, keys: BigInt64Array, rows: Float32Array, notFound: Uint32Array) => void,
  defer: (work: () => void) => void,
): Uint32Array {
  let missing: Uint32Array;
  if (tiers.l2) {
    const t = process.hrtime.bigint();
    missing = tiers.l2.lookup(keys, out);
    counts.l2Ns += Number(process.hrtime.bigint() - t);
    counts.l2Hits += keys.length - missing.length;
  } else {
    missing = allPositions(keys.length);
  }

  if (missing.length > 0 && tiers.l3) {
    const t = process.hrtime.bigint();
    // Everything missed L2 (or there is none): L3 reads straight into `out`, no compaction.
    const all = missing.length === keys.length;
    const l3Keys = all ? keys : pickKeys(keys, missing);
    const l3Rows = all ? out : new Float32Array(missing.length * tiers.dim);
    const l3Missing = tiers.l3.lookup(l3Keys, l3Rows);
    if (!all) placeRows(l3Rows, missing, out, tiers.dim);
    counts.l3Ns += Number(process.hrtime.bigint() - t);
    counts.l3Hits += missing.length - l3Missing.length;
    if (tiers.l2 && tiers.cacheMissedEmbeddings && l3Missing.length < missing.length) {
      const l2 = tiers.l2;
      // `keys` and `out` may be reused before the deferred insertion runs (shared request buffers, the
      // caller's arrays): it gets its own copies.
      const k = all ? l3Keys.slice() : l3Keys;
      const rows = all ? l3Rows.slice() : l3Rows;
      defer(() => cacheFound(l2, k, rows, l3Missing));
    }
    missing = all ? l3Missing : composePositions(missing, l3Missing);
  }

  fillRows(out, missing, tiers.dim, tiers.defaultValue);
  counts.defaults += missing.length;
  return missing;
}

/**
 * Caches the rows of `keys` except those at `notFound` positions in `tier`, unless a write to the table
 * overlapped the fetch that produced them (the epoch was odd or moved): then whatever was inserted is
 * taken out again.
 */
export function insertFound(
  tiers: TableTiers, epoch: number, tier: WriteTier,
  keys: BigInt64Array, rows: Float32Array, notFound: Uint32Array,
): void {
  if (notFound.length === keys.length || (epoch & 1) === 1) return;
  let k = keys;
  let r = rows;
  if (notFound.length > 0) {
    const found = complement(notFound, keys.length);
    k = pickKeys(keys, found);
    r = pickRows(rows, found, tiers.dim);
  }
  tier.insert(k, r);
  if (Atomics.load(tiers.epoch, 0) !== epoch) tier.erase(k);
}

function allPositions(n: number): Uint32Array {
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  return all;
}

/** Positions in [0, n) not in the ascending list `missing`. */
export function complement(missing: Uint32Array, n: number): Uint32Array {
  const found = new Uint32Array(n - missing.length);
  let m = 0;
  let f = 0;
  for (let i = 0; i < n; i++) {
    if (m < missing.length && missing[m] === i) m++;
    else found[f++] = i;
  }
  return found;
}

/** The tiers as prefetch uses them: every fetched row is cached at once, in L1 and L2. */
export function warmingTiers(tiers: TableTiers): TableTiers {
  return { ...tiers, hitRateThreshold: Infinity, approximate: false, cacheMissedEmbeddings: tiers.l2 !== null };
}
