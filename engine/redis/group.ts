import { partitionsOf } from './partition-hash.js';

/** Positions of keys grouped by partition: partition p's are positions[starts[p]..starts[p+1]), ascending. */
export interface Grouped {
  positions: Uint32Array;
  starts: Uint32Array;
}

/** A counting sort of key positions by HPS partition. */
export function groupByPartition(keys: BigInt64Array, numPartitions: number): Grouped {
  const parts = partitionsOf(keys, numPartitions);
  const starts = new Uint32Array(numPartitions + 1);
  for (let i = 0; i < parts.length; i++) starts[parts[i] + 1]++;
  for (let p = 0; p < numPartitions; p++) starts[p + 1] += starts[p];
  const cursor = starts.slice(0, numPartitions);
  const positions = new Uint32Array(keys.length);
  for (let i = 0; i < parts.length; i++) positions[cursor[parts[i]]++] = i;
  return { positions, starts };
}
