import { workerData } from 'piscina';
import { attachTable } from '../engine/pipeline/table-setup.js';
import { serveUnique, warmingTiers } from '../engine/pipeline/serve.js';
import type { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import type { RangeTask, RangeResult, WorkerSetup } from '../engine/pool/protocol.js';

/**
 * A lookup worker: attaches once to every table's shared tiers (wasm instances over the shared
 * memories, LMDB read-only), then serves ranges of requests' unique keys in shared buffers.
 */
const setup = workerData as WorkerSetup;
const stores = new Map<string, LmdbStore>();
const tables = setup.tables.map((t) => attachTable(t, stores));

export default function serveRange(task: RangeTask): RangeResult {
  const tiers = tables[task.table];
  const keys = new BigInt64Array(task.keys, task.offset * 8, task.count);
  const out = new Float32Array(task.out, task.offset * tiers.dim * 4, task.count * tiers.dim);
  return { counts: serveUnique(task.warm ? warmingTiers(tiers) : tiers, keys, out) };
}
