/** Per-tier outcome counts of one lookup (or range of one), added up into the table's stats. */
export interface TierCounts {
  /** Unique keys looked up. */
  unique: number;
  l1Hits: number;
  l2Hits: number;
  l3Hits: number;
  /** Keys found in no tier (given the default vector). */
  defaults: number;
  /** Nanoseconds spent in each tier (0 where the tier is absent). */
  l1Ns: number;
  l2Ns: number;
  l3Ns: number;
}

export function emptyCounts(): TierCounts {
  return { unique: 0, l1Hits: 0, l2Hits: 0, l3Hits: 0, defaults: 0, l1Ns: 0, l2Ns: 0, l3Ns: 0 };
}

export function addCounts(into: TierCounts, from: TierCounts): void {
  into.unique += from.unique;
  into.l1Hits += from.l1Hits;
  into.l2Hits += from.l2Hits;
  into.l3Hits += from.l3Hits;
  into.defaults += from.defaults;
  into.l1Ns += from.l1Ns;
  into.l2Ns += from.l2Ns;
  into.l3Ns += from.l3Ns;
}
