import type { LmdbStore } from './lmdb-store.js';
import { keyHalves } from './key-codec.js';
import { RowChecksum } from './row-checksum.js';

/** What `verifyTable` found: `problem` is null when the rows match what the table's metadata records. */
export interface TableVerdict {
  table: string;
  rows: number;
  recordedRows: number;
  /** The checksum of the rows as scanned, and the one recorded at the last write (null: none recorded). */
  checksum: string;
  recordedChecksum: string | null;
  problem: string | null;
}

/**
 * Reads every row of `table` (one snapshot) and compares the row count and the checksum (row-checksum.ts)
 * with those its metadata recorded at the last import or write. `onRows` is called after each chunk with
 * the rows read so far. A table written while it is read is reported as such, not as damaged.
 */
export function verifyTable(store: LmdbStore, table: string, onRows: (rows: number) => void = () => {}): TableVerdict {
  const before = store.table(table);
  if (!before) throw new Error(`verifyTable: no table ${table}`);
  const sum = new RowChecksum();
  let rows = 0;
  let problem: string | null = null;
  try {
    for (const { keys, vectors } of store.scan(table)) {
      const halves = keyHalves(keys);
      const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
      const rowBytes = before.dim * 4;
      for (let i = 0; i < keys.length; i++) sum.add(halves[2 * i], halves[2 * i + 1], bytes, i * rowBytes, rowBytes);
      rows += keys.length;
      onRows(rows);
    }
  } catch (e) {
    problem = `cannot read every row: ${(e as Error).message}`;
  }
  const after = store.table(table);
  const checksum = sum.toString();
  const recordedChecksum = before.checksum ?? null;
  if (!problem && (after?.db !== before.db || after.updatedAt !== before.updatedAt)) {
    problem = 'the table was written while it was checked; check again';
  } else if (!problem && rows !== before.count) {
    problem = `${rows} rows read, ${before.count} recorded`;
  } else if (!problem && recordedChecksum !== null && checksum !== recordedChecksum) {
    problem = `the rows' checksum is ${checksum}, ${recordedChecksum} was recorded at the last write (a row's key or vector bytes changed outside hps-node)`;
  }
  return { table, rows, recordedRows: before.count, checksum, recordedChecksum, problem };
}
