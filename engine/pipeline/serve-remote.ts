import { composePositions, fillRows, pickKeys, pickRows, placeRows } from './compact.js';
import type { TierCounts } from './counts.js';
import { complement, insertFound, type BelowL1, type Defer } from './serve.js';
import { driveSync } from './steps.js';
import type { RemoteTier, TableTiers } from './tiers.js';

/**
 * What serveSteps does below L1 when the volatile tier is Redis: the host arena as a near cache (when
 * there is one), then Redis (awaited), then L3, then the default vector. Redis and L3 hits go into the
 * near cache; with `cacheMissedEmbeddings`, L3 hits go into Redis too, off the request path. Near-cache
 * and Redis hits both count as L2 hits. Every insertion is guarded by the table's write epoch.
 */
export function remoteBelow(tiers: TableTiers, remote: RemoteTier, defer: Defer, warn: (line: string) => void): BelowL1 {
  return (keys, out, counts) => fetchBelow(tiers, remote, keys, out, counts, defer, warn);
}

async function fetchBelow(
  tiers: TableTiers, remote: RemoteTier, keys: BigInt64Array, rows: Float32Array, counts: TierCounts, defer: Defer,
  warn: (line: string) => void,
): Promise<Uint32Array> {
  const dim = tiers.dim;
  const epoch = Atomics.load(tiers.epoch, 0);
  const near = tiers.l2;
  let t = process.hrtime.bigint();
  const pending = near ? near.lookup(keys, rows) : allPositions(keys.length);
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
  let l3: { keys: BigInt64Array; rows: Float32Array; missing: Uint32Array } | null = null;
  if (remoteMissing.length > 0 && tiers.l3) {
    t = process.hrtime.bigint();
    const l3Keys = pickKeys(remoteKeys, remoteMissing);
    const l3Rows = new Float32Array(remoteMissing.length * dim);
    const l3Missing = tiers.l3.lookup(l3Keys, l3Rows);
    placeRows(l3Rows, remoteMissing, remoteRows, dim);
    counts.l3Ns += Number(process.hrtime.bigint() - t);
    counts.l3Hits += remoteMissing.length - l3Missing.length;
    missing = composePositions(remoteMissing, l3Missing);
    l3 = { keys: l3Keys, rows: l3Rows, missing: l3Missing };
  }
  fillRows(remoteRows, missing, dim, tiers.defaultValue);
  counts.defaults += missing.length;
  if (!all) placeRows(remoteRows, pending, rows, dim);

  if (near && missing.length < remoteKeys.length) {
    // Copies: the caller's buffers may be reused before the deferred insertion runs.
    const k = all ? remoteKeys.slice() : remoteKeys;
    const r = all ? remoteRows.slice() : remoteRows;
    const notFound = missing;
    defer(() => driveSync(insertFound(tiers, epoch, near, k, r, notFound)));
  }
  if (l3 && tiers.cacheMissedEmbeddings && l3.missing.length < l3.keys.length) cacheInRemote(tiers, epoch, remote, l3.keys, l3.rows, l3.missing, warn);
  return all ? missing : composePositions(pending, missing);
}

/**
 * Inserts L3 hits into the remote tier off the request path; taken out again if a write overlapped. A
 * failure fails no request (each was answered already): it goes to `warn` (OpenOptions.warn).
 */
function cacheInRemote(
  tiers: TableTiers, epoch: number, remote: RemoteTier, keys: BigInt64Array, rows: Float32Array, notFound: Uint32Array, warn: (line: string) => void,
): void {
  if ((epoch & 1) === 1) return;
  const found = notFound.length === 0 ? null : complement(notFound, keys.length);
  const k = found ? pickKeys(keys, found) : keys;
  const r = found ? pickRows(rows, found, tiers.dim) : rows;
  remote.insert(k, r)
    .then(() => (Atomics.load(tiers.epoch, 0) !== epoch ? remote.erase(k) : 0))
    .catch((err) => warn(`hps: caching L3 rows in Redis failed: ${(err as Error).message}`));
}

function allPositions(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
