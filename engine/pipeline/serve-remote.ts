import { composePositions, fillRows, pickKeys, pickRows, placeRows } from './compact.js';
import { emptyCounts, type TierCounts } from './counts.js';
import { complement, insertFound, type Served } from './serve.js';
import type { RemoteTier, TableTiers } from './tiers.js';

/**
 * serveUnique's pipeline with an asynchronous tier below L1 (Redis): L1, then the host arena as a near
 * cache, then the remote tier, then L3, then the default vector. Rows found below L1 go into L1 by the
 * same hit-rate rule as serveUnique; remote and L3 hits go into the near cache; with
 * `cacheMissedEmbeddings`, L3 hits go into the remote tier too. Both remote hits and near-cache hits
 * count as L2 hits. Every insertion is guarded by the table's write epoch, as in serveUnique.
 */
export async function serveUniqueRemote(
  tiers: TableTiers, remote: RemoteTier, keys: BigInt64Array, out: Float32Array, defer: (work: () => void) => void,
): Promise<Served> {
  const counts = emptyCounts();
  counts.unique = keys.length;
  if (keys.length === 0) return { counts, notFound: new Uint32Array(0) };
  const epoch = Atomics.load(tiers.epoch, 0);
  if (!tiers.l1) return { counts, notFound: await fetchBelow(tiers, remote, keys, out, counts, epoch, defer) };

  const t = process.hrtime.bigint();
  const missed = tiers.l1.lookup(keys, out);
  counts.l1Ns = Number(process.hrtime.bigint() - t);
  counts.l1Hits = keys.length - missed.length;
  if (missed.length === 0) return { counts, notFound: missed };
  const l1 = tiers.l1;
  const hitRate = counts.l1Hits / keys.length;
  const missedKeys = pickKeys(keys, missed);
  const rows = new Float32Array(missed.length * tiers.dim);
  if (tiers.approximate && hitRate >= tiers.hitRateThreshold) {
    // HPS's approximate mode: defaults now, fetch and cache the misses afterwards.
    fillRows(out, missed, tiers.dim, tiers.defaultValue);
    counts.defaults = missed.length;
    defer(() => {
      fetchBelow(tiers, remote, missedKeys, rows, emptyCounts(), epoch, defer)
        .then((notFound) => insertFound(tiers, epoch, l1, missedKeys, rows, notFound))
        .catch((err) => console.warn(`hps: a deferred fetch failed: ${(err as Error).message}`));
    });
    return { counts, notFound: missed };
  }
  const notFound = await fetchBelow(tiers, remote, missedKeys, rows, counts, epoch, defer);
  placeRows(rows, missed, out, tiers.dim);
  if (hitRate < tiers.hitRateThreshold) insertFound(tiers, epoch, l1, missedKeys, rows, notFound);
  else defer(() => insertFound(tiers, epoch, l1, missedKeys, rows, notFound));
  return { counts, notFound: composePositions(missed, notFound) };
}

/** Near cache, remote tier, L3, defaults for `keys` into `rows`; returns the positions found nowhere. */
async function fetchBelow(
  tiers: TableTiers, remote: RemoteTier, keys: BigInt64Array, rows: Float32Array,
  counts: TierCounts, epoch: number, defer: (work: () => void) => void,
): Promise<Uint32Array> {
  const dim = tiers.dim;
  const near = tiers.l2;
  let t = process.hrtime.bigint();
  let pending = near ? near.lookup(keys, rows) : allPositions(keys.length);
  counts.l2Hits += keys.length - pending.length;
  if (pending.length === 0) {
    counts.l2Ns += Number(process.hrtime.bigint() - t);
    return pending;
  }
  const all = pending.length === keys.length;
  const remoteKeys = all ? keys : pickKeys(keys, pending);
  const remoteRows = all ? rows : new Float32Array(pending.length * dim);
  const remoteMissing = await remote.lookup(remoteKeys, remoteRows);
  counts.l2Ns += Number(process.hrtime.bigint() - t);
  counts.l2Hits += remoteKeys.length - remoteMissing.length;

  let missing = remoteMissing;
  let l3Keys: BigInt64Array | null = null;
  let l3Rows: Float32Array | null = null;
  let l3Missing: Uint32Array | null = null;
  if (remoteMissing.length > 0 && tiers.l3) {
    t = process.hrtime.bigint();
    l3Keys = pickKeys(remoteKeys, remoteMissing);
    l3Rows = new Float32Array(remoteMissing.length * dim);
    l3Missing = tiers.l3.lookup(l3Keys, l3Rows);
    placeRows(l3Rows, remoteMissing, remoteRows, dim);
    counts.l3Ns += Number(process.hrtime.bigint() - t);
    counts.l3Hits += remoteMissing.length - l3Missing.length;
    missing = composePositions(remoteMissing, l3Missing);
  }
  if (!all) placeRows(remoteRows, pending, rows, dim);
  fillRows(remoteRows, missing, dim, tiers.defaultValue);
  counts.defaults += missing.length;

  // Copies: the caller's buffers may be reused before deferred work runs.
  if (near) {
    const k = remoteKeys.slice();
    const r = remoteRows.slice();
    const notFound = missing;
    defer(() => insertFound(tiers, epoch, near, k, r, notFound));
  }
  if (l3Keys && l3Rows && l3Missing && tiers.cacheMissedEmbeddings && l3Missing.length < l3Keys.length) {
    cacheRemote(tiers, epoch, remote, l3Keys, l3Rows, l3Missing);
  }
  return all ? missing : composePositions(pending, missing);
}

/** Inserts L3 hits into the remote tier off the request path, taken out again if a write overlapped. */
function cacheRemote(tiers: TableTiers, epoch: number, remote: RemoteTier, keys: BigInt64Array, rows: Float32Array, notFound: Uint32Array): void {
  if ((epoch & 1) === 1) return;
  const found = notFound.length === 0 ? null : complement(notFound, keys.length);
  const k = found ? pickKeys(keys, found) : keys;
  const r = found ? pickRows(rows, found, tiers.dim) : rows;
  remote.insert(k, r)
    .then(() => (Atomics.load(tiers.epoch, 0) !== epoch ? remote.erase(k) : 0))
    .catch((err) => console.warn(`hps: caching L3 rows in Redis failed: ${(err as Error).message}`));
}

function allPositions(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

