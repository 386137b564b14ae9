import { totalmem } from 'node:os';
import { HpsError } from '../errors.js';
import type { KeyType } from '../keys.js';
import type { LmdbStore } from '../lmdb/lmdb-store.js';
import type { TableMeta } from '../lmdb/table-meta.js';
import { fingerprintFiles } from './fingerprint.js';
import { progressBar } from './progress.js';
import { removeAbandonedRuns } from '../lmdb/abandoned-runs.js';
import { SortedRuns, sortOrder } from './sorted-runs.js';
import { bucketByKeyOrder } from './key-order-buckets.js';
import { chunkRowsFor, type ImportSource } from './source.js';

export interface ImportOptions {
  keyType: KeyType;
  /** Show a progress bar on stderr; defaults to whether stderr is a terminal. */
  progress?: boolean;
  /** Rows per write transaction (fewer commits and syncs; more dirty pages held); defaults to about 64 MiB of rows. */
  chunkRows?: number;
  /**
   * Bytes of rows (8 + dim x 4 each) imported in one piece, sorted in memory with no temporary files.
   * Larger sources are sorted in runs of `runRows` spilled to files. Default: a quarter of the
   * machine's memory, at most 2 GiB.
   */
  memoryBudget?: number;
  /** Rows per sorted run of a source larger than `memoryBudget`; defaults to about 64 MiB of rows. */
  runRows?: number;
  /** Called after each chunk: rows read and sorted so far (`sort`), or rows stored so far (`store`). */
  onProgress?: (phase: 'sort' | 'store', rows: number) => void;
}

export interface ImportReport {
  model: string;
  table: string;
  source: string;
  /** Rows read from the source (duplicates included). */
  rows: number;
  /** Distinct keys in the table afterwards. */
  count: number;
  /** Key and vector bytes read. */
  bytes: number;
  seconds: number;
  keysPerSecond: number;
}

/**
 * Imports `source` as table `table` of `store`, atomically: rows are sorted by key (in memory within
 * `memoryBudget`, else in runs spilled to files and merged: sorted-runs.ts), appended to a staging
 * database one transaction per chunk, and replace the table in one transaction at the end. On any
 * error (or a killed process) the table stays as it was. Memory is bounded by `memoryBudget`, or by
 * one run plus one transaction's chunk.
 */
export async function importTable(store: LmdbStore, table: string, source: ImportSource, options: ImportOptions): Promise<{ report: ImportReport; meta: TableMeta }> {
  const { dim } = source;
  const existing = store.table(table);
  if (existing && existing.dim !== dim) {
    throw new HpsError('BAD_FILE', `${source.description}: rows of dim ${dim}, but table ${table} of model ${store.model} has dim ${existing.dim}`);
  }
  const started = performance.now();
  const fingerprint = fingerprintFiles(source.files, dim);
  removeAbandonedRuns(store.path);
  const runRows = options.runRows ?? chunkRowsFor(dim, 64 << 20);
  const txnRows = options.chunkRows ?? chunkRowsFor(dim, 64 << 20);
  const staged = store.beginImport(table, { dim, keyType: options.keyType, fingerprint, source: source.description });
  const runs = new SortedRuns(store.path, dim);
  let bar = progressBar(`${store.model}/${table} read+sort`, source.totalRows, options.progress);
  try {
    let rows = 0;
    const budget = options.memoryBudget ?? Math.min(2 ** 31, Math.floor(totalmem() / 4));
    if (source.totalRows !== null && source.totalRows * (8 + dim * 4) <= budget) {
      // Everything fits the budget: one chunk, sorted by an index order, its rows regrouped in place
      // into key-order buckets so that the writes read memory almost in order (key-order-buckets.ts).
      for await (const { keys, vectors } of source.chunks(Math.max(1, source.totalRows), options.keyType)) {
        rows += keys.length;
        const order = sortOrder(keys);
        if (order) bucketByKeyOrder({ keys, vectors }, dim, order);
        bar.update(rows);
        options.onProgress?.('sort', rows);
        bar.stop();
        bar = progressBar(`${store.model}/${table} store`, source.totalRows, options.progress);
        for (let at = 0; at < keys.length; at += txnRows) {
          staged.write(keys, vectors, order, at, Math.min(at + txnRows, keys.length));
          bar.update(staged.rows);
          options.onProgress?.('store', staged.rows);
        }
      }
    } else {
      for await (const chunk of source.chunks(runRows, options.keyType)) {
        rows += chunk.keys.length;
        await runs.add(chunk);
        bar.update(rows);
        options.onProgress?.('sort', rows);
      }
      bar.stop();
      bar = progressBar(`${store.model}/${table} store`, rows, options.progress);
      for await (const { keys, vectors } of runs.merge(txnRows)) {
        staged.write(keys, vectors);
        bar.update(staged.rows);
        options.onProgress?.('store', staged.rows);
      }
    }
    const meta = staged.commit();
    const seconds = (performance.now() - started) / 1000;
    return {
      meta,
      report: { model: store.model, table, source: source.description, rows, count: meta.count, bytes: rows * (8 + dim * 4), seconds, keysPerSecond: rows / seconds },
    };
  } catch (e) {
    try {
      staged.abort();
    } catch {
      // e.g. a full disk: the staging database stays listed and is dropped at the next writable open
    }
    if (e instanceof HpsError) throw e;
    throw new HpsError('IO', `${source.description}: import into model ${store.model} table ${table} failed: ${(e as Error).message}; the table is unchanged`, { cause: e });
  } finally {
    bar.stop();
    runs.remove();
  }
}
