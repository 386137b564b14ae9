import type { TierCounts } from '../pipeline/counts.js';
import type { TableSetup } from '../pipeline/table-setup.js';

/**
 * Messages between the calling thread and lookup workers. Everything here is structured-cloneable:
 * shared memories and SharedArrayBuffers are shared, not copied.
 */
export interface WorkerSetup {
  /** One entry per served table, indexed by `RangeTask.table`. */
  tables: TableSetup[];
}

/** Serve keys [offset, offset + count) of `keys` into the same rows of `out`. */
export interface RangeTask {
  table: number;
  /** BigInt64Array elements of the request's keys. */
  keys: SharedArrayBuffer;
  /** Float32 rows, keys x dim, starting at `outByteOffset`. */
  out: SharedArrayBuffer;
  outByteOffset: number;
  offset: number;
  count: number;
  /** The keys are known distinct (no dedup needed). */
  distinct: boolean;
  /** A prefetch: cache every fetched row at once (see warmingTiers). */
  warm: boolean;
}

/** A warning a worker posts to the calling thread (its deferred work failed), for OpenOptions.warn. */
export interface WorkerWarning {
  hpsWarning: string;
}

export function isWorkerWarning(message: unknown): message is WorkerWarning {
  return typeof message === 'object' && message !== null && typeof (message as WorkerWarning).hpsWarning === 'string';
}

export interface RangeResult {
  counts: TierCounts;
  /** Positions in the range (from its offset) found in no tier. */
  notFound: Uint32Array;
}
