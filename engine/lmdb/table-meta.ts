import type { KeyType } from '../keys.js';

/** What the environment records about one table (in its `hps:meta` database). */
export interface TableMeta {
  name: string;
  /** The named LMDB database holding the rows now; changes on every import (atomic swap). */
  db: string;
  dim: number;
  keyType: KeyType;
  /** Distinct keys stored. */
  count: number;
  /** Fingerprint of the files the table was imported from (sizes + mtimes), if any. */
  fingerprint: string | null;
  /** What it was imported from, for `info()`. */
  source: string | null;
  updatedAt: string;
  /**
   * The rows' checksum (row-checksum.ts), set by the import and kept up to date by every write in the
   * same transaction; `hps check` recomputes it. Absent for tables written before checksums were kept.
   */
  checksum?: string | null;
}
