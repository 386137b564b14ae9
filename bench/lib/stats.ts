/** Summary statistics of benchmark samples. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number;
}

/** Median, min, max and count of `values` (throws on an empty list: a figure needs samples). */
export function summarize(values: ArrayLike<number>): Summary {
  if (values.length === 0) throw new Error('summarize: no samples');
  const sorted = Float64Array.from(values).sort();
  return { median: quantileSorted(sorted, 0.5), min: sorted[0], max: sorted[sorted.length - 1], samples: sorted.length };
}

/**
 * The q-quantile (0..1) of ascending `sorted` values, interpolating linearly between the two closest
 * ranks (so the median of an even count is the mean of the middle two).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantile: no samples');
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
