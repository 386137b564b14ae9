import type { CacheTier, TableTiers } from './tiers.js';
import { emptyCounts, type TierCounts } from './counts.js';
import { pickKeys, pickRows, placeRows, composePositions, fillRows } from './compact.js';
import { driveSync, drive, type Steps } from './steps.js';

/** What serving a set of distinct keys did: per-tier counts, and the positions found in no tier. */
export interface Served {
  counts: TierCounts;
  /** Ascending positions (into the keys served) answered with the default vector. */
  notFound: Uint32Array;
}

/** Takes work off the request path (see DeferredWork); a returned promise is awaited there. */
export type Defer = (work: () => void | Promise<unknown>) => void;

/**
 * Serves keys that L1 missed into `out` (L2, L3, defaults; inline or split over the workers), adding to
 * `counts`. Resolves to the ascending positions found in no tier.
 */
export type BelowL1 = (keys: BigInt64Array, out: Float32Array, counts: TierCounts) => Uint32Array | Promise<Uint32Array>;

const NONE = new Uint32Array(0);

/** serveSteps on the calling thread with every tier synchronous (the WASM L1 or none). */
export function serveUnique(tiers: TableTiers, keys: BigInt64Array, out: Float32Array, defer: Defer): Served {
  return driveSync(serveSteps(tiers, keys, out, defer, (k, o, c) => resolveBelowL1(tiers, k, o, c, defer)));
}

/**
 * The lookup pipeline of docs/design.md over unique keys, writing row i of `out` for keys[i]: L1, then
 * `below` for what L1 missed (L2, L3, the default vector). Rows found below go into L1 synchronously
 * when the batch's L1 hit rate is below the threshold, else deferred off the request path; in HPS's
 * approximate mode, at or above the threshold, misses get the default vector now and are fetched and
 * cached afterwards. Whether L1 answers at once or with a promise, these rules are this one function
 * (run it with `drive`).
 */
export function* serveSteps(
  tiers: TableTiers, keys: BigInt64Array, out: Float32Array, defer: Defer, below: BelowL1,
): Steps<Served> {
  const counts = emptyCounts();
  counts.unique = keys.length;
  if (keys.length === 0) return { counts, notFound: NONE };
  const l1 = tiers.l1;
  if (!l1) return { counts, notFound: (yield below(keys, out, counts)) as Uint32Array };

  const epoch = Atomics.load(tiers.epoch, 0);
  const t = process.hrtime.bigint();
  const missed = (yield l1.lookup(keys, out)) as Uint32Array;
  counts.l1Ns = Number(process.hrtime.bigint() - t);
  counts.l1Hits = keys.length - missed.length;
  if (missed.length === 0) return { counts, notFound: NONE };

  const rows = new Float32Array(missed.length * tiers.dim);
  const notFound = yield* missSteps(tiers, l1, epoch, pickKeys(keys, missed), rows, counts.l1Hits / keys.length, counts, defer, below);
  placeRows(rows, missed, out, tiers.dim);
  return { counts, notFound: composePositions(missed, notFound) };
}

/**
 * The keys L1 missed (distinct), by L1's rules, into `rows` (keys.length x dim): `below` fetches them
 * and the rows found are inserted into L1 synchronously when the request's L1 hit rate (`hitRate`) is
 * below the threshold, else deferred; in HPS's approximate mode, at or above the threshold, they get
 * the default vector now and are fetched and cached afterwards. `epoch` is the table's write epoch read
 * before L1 was asked. Returns the positions answered with the default vector.
 */
export function* missSteps(
  tiers: TableTiers, l1: CacheTier, epoch: number, keys: BigInt64Array, rows: Float32Array,
  hitRate: number, counts: TierCounts, defer: Defer, below: BelowL1,
): Steps<Uint32Array> {
  if (tiers.approximate && hitRate >= tiers.hitRateThreshold) {
    rows.fill(tiers.defaultValue);
    counts.defaults += keys.length;
    defer(() => drive(fetchAndCache(tiers, epoch, l1, keys, below)));
    return allPositions(keys.length);
  }
  const notFound = (yield below(keys, rows, counts)) as Uint32Array;
  if (hitRate < tiers.hitRateThreshold) yield* insertFound(tiers, epoch, l1, keys, rows, notFound);
  else defer(() => drive(insertFound(tiers, epoch, l1, keys, rows, notFound)));
  return notFound;
}

export function* fetchAndCache(tiers: TableTiers, epoch: number, l1: CacheTier, keys: BigInt64Array, below: BelowL1): Steps<void> {
  const rows = new Float32Array(keys.length * tiers.dim);
  const notFound = (yield below(keys, rows, emptyCounts())) as Uint32Array;
  yield* insertFound(tiers, epoch, l1, keys, rows, notFound);
}

/**
 * L2, then L3, then defaults, for keys not in L1. Returns the ascending positions (into `keys`) found
 * in no tier, so that only real rows are cached above.
 */
export function resolveBelowL1(tiers: TableTiers, keys: BigInt64Array, out: Float32Array, counts: TierCounts, defer: Defer): Uint32Array {
  const epoch = Atomics.load(tiers.epoch, 0);
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
      const insert = () => driveSync(insertFound(tiers, epoch, l2, k, rows, l3Missing));
      if (tiers.cacheAtOnce) insert();
      else defer(insert);
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
export function* insertFound(
  tiers: TableTiers, epoch: number, tier: CacheTier,
  keys: BigInt64Array, rows: Float32Array, notFound: Uint32Array,
): Steps<void> {
  if (notFound.length === keys.length || (epoch & 1) === 1) return;
  let k = keys;
  let r = rows;
  if (notFound.length > 0) {
    const found = complement(notFound, keys.length);
    k = pickKeys(keys, found);
    r = pickRows(rows, found, tiers.dim);
  }
  yield tier.insert(k, r);
  if (Atomics.load(tiers.epoch, 0) !== epoch) yield tier.erase(k);
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
  return { ...tiers, hitRateThreshold: Infinity, approximate: false, cacheMissedEmbeddings: tiers.l2 !== null, cacheAtOnce: true };
}
