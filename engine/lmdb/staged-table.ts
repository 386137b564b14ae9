import type { KeyCodec } from './key-codec.js';
import { RowChecksum } from './row-checksum.js';
import type { TableMeta } from './table-meta.js';
import { writeRows, type AppendState, type RowDatabase } from './write-rows.js';

/**
 * An import in progress: rows go into the table's other (emptied) row database, one transaction per
 * `write`, so memory stays bounded by one chunk. Nothing is visible under the table's name until
 * `commit()`.
 */
export class StagedTable {
  private readonly order: AppendState = { empty: true, hi: 0, lo: 0 };
  /** The checksum of the rows staged so far (row-checksum.ts), recorded with the table at commit. */
  readonly checksum = new RowChecksum();
  private done = false;
  rows = 0;

  constructor(
    private readonly codec: KeyCodec,
    readonly dim: number,
    /** Runs a write transaction of the store (holding its gate). */
    private readonly transact: (fn: () => void) => void,
    private readonly db: RowDatabase,
    private readonly finish: (abort: boolean) => TableMeta | undefined,
  ) {}

  /**
   * Writes one chunk (`vectors` is keys.length x dim; checked by the caller) in one transaction: rows
   * `order[j]` (or j) for j in [from, to).
   */
  write(keys: BigInt64Array, vectors: Float32Array, order: Uint32Array | null = null, from = 0, to = keys.length): void {
    this.transact(() => writeRows(this.db, this.codec, this.dim, keys, vectors, this.order, this.checksum, order, from, to));
    this.rows += to - from;
  }

  /** Swaps the staged rows in as the table, emptying the previous rows, in one transaction. */
  commit(): TableMeta {
    this.done = true;
    try {
      return this.finish(false)!;
    } catch (e) {
      this.done = false; // so that abort() still drops the staged rows
      throw e;
    }
  }

  /** Empties the staged rows; the table stays as it was. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.finish(true);
  }
}
