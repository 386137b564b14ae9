/**
 * The per-table lookup pipeline: ask each tier in order for the positions still missing, then fill
 * the table's default vector for keys found nowhere. Tiers (L1 cache, L2 host arena / Redis, L3 LMDB)
 * plug in through `LookupTier`; at this stage a table has only the LMDB tier.
 */
export interface LookupTier {
  readonly name: string;
  /**
   * Writes row p of `out` (keys.length x dim) for every position p in `positions` (every position
   * when null) whose key the tier holds, leaving other rows alone; returns the positions it did not
   * hold, ascending.
   */
  query(keys: BigInt64Array, out: Float32Array, positions: Uint32Array | null): Uint32Array | Promise<Uint32Array>;
}

export interface TableTiers {
  readonly dim: number;
  /** One row of `dim`: the vector of keys found in no tier. */
  readonly defaultRow: Float32Array;
  readonly tiers: readonly LookupTier[];
}

export interface LookupCounts {
  /** Keys answered by each tier, in tier order. */
  hits: number[];
  /** Keys that got the default vector. */
  defaults: number;
}

/** Fills `out` (keys.length x dim) for `keys` from the table's tiers, then defaults. */
export async function lookupRows(table: TableTiers, keys: BigInt64Array, out: Float32Array): Promise<LookupCounts> {
  const hits: number[] = [];
  let pending: Uint32Array | null = null;
  let pendingCount = keys.length;
  for (const tier of table.tiers) {
    if (pendingCount === 0) {
      hits.push(0);
      continue;
    }
    const missing = await tier.query(keys, out, pending);
    hits.push(pendingCount - missing.length);
    pending = missing;
    pendingCount = missing.length;
  }
  if (pendingCount > 0) fillDefaults(table, out, pending);
  return { hits, defaults: pendingCount };
}

function fillDefaults(table: TableTiers, out: Float32Array, positions: Uint32Array | null): void {
  const { dim, defaultRow } = table;
  if (positions === null) {
    for (let p = 0; p * dim < out.length; p++) out.set(defaultRow, p * dim);
    return;
  }
  for (let j = 0; j < positions.length; j++) out.set(defaultRow, positions[j] * dim);
}
