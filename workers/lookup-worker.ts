import { parentPort } from 'node:worker_threads';
import { workerData } from 'piscina';
import { attachTable } from '../engine/pipeline/table-setup.js';
import { serveUnique, warmingTiers } from '../engine/pipeline/serve.js';
import { DeferredWork } from '../engine/pipeline/deferred.js';
import { serveKeys } from '../engine/pipeline/serve-keys.js';
import { PipelineKernels } from '../engine/pipeline/kernels-wasm.js';
import type { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import type { TableTiers } from '../engine/pipeline/tiers.js';
import type { RangeTask, RangeResult, WorkerSetup, WorkerWarning } from '../engine/pool/protocol.js';

/**
 * A lookup worker: attaches to a table's shared tiers (wasm instances over the shared memories, LMDB
 * read-only) on its first task for that table, then serves ranges of requests' keys in shared buffers,
 * deduplicating within its range. Attaching lazily keeps a failure to attach inside a task, where it
 * fails that request.
 */
const setup = workerData as WorkerSetup;
const stores = new Map<string, LmdbStore>();
const tables: (TableTiers | undefined)[] = [];
// Failures of deferred work go to the pool's owner (OpenOptions.warn), never to this thread's stderr.
const deferred = new DeferredWork((line) => parentPort?.postMessage({ hpsWarning: line } satisfies WorkerWarning));
let kernels: PipelineKernels | undefined;

export default function serveRange(task: RangeTask): RangeResult {
  deferred.drain();
  const tiers = (tables[task.table] ??= attachTable(setup.tables[task.table], stores));
  const keys = new BigInt64Array(task.keys, task.offset * 8, task.count);
  const out = new Float32Array(task.out, task.outByteOffset + task.offset * tiers.dim * 4, task.count * tiers.dim);
  const served = task.warm ? warmingTiers(tiers) : tiers;
  if (task.distinct) return serveUnique(served, keys, out, deferred.add);
  return serveKeys(served, (kernels ??= new PipelineKernels()), keys, out, deferred.add);
}
