import type { Database } from 'lmdb';
import type { KeyCodec } from './key-codec.js';
import { keyHalves } from './key-codec.js';
import type { RowChecksum } from './row-checksum.js';

/** Row data as LMDB sees it: binary keys (key-codec.ts), values the raw float32 bytes of one row. */
export type RowDatabase = Database<Buffer, Buffer>;

/**
 * Writes rows inside the caller's write transaction: rows `order[j]` (or j) for j in [from, to).
 * `append` (ordering state of an import) lets keys that arrive in ascending order use MDB_APPEND.
 * Values are passed as one Buffer over `vectors` whose `start`/`end` lmdb-js reads as the value's
 * range, so no object is made per row, and an `order` means rows need not be moved to be sorted.
 * `sum`, when given, is kept up to date: the replaced row's hash out, the new row's in.
 */
export function writeRows(db: RowDatabase, codec: KeyCodec, dim: number, keys: BigInt64Array, vectors: Float32Array, append: AppendState | null, sum: RowChecksum | null, order: Uint32Array | null = null, from = 0, to = keys.length): void {
  const source = vectors.buffer instanceof ArrayBuffer ? vectors : vectors.slice();
  const value = Buffer.from(source.buffer, source.byteOffset, source.byteLength) as Buffer & { start: number; end: number };
  const halves = keyHalves(keys);
  const rowBytes = dim * 4;
  const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  for (let j = from; j < to; j++) {
    const i = order ? order[j] : j;
    value.start = source.byteOffset + i * rowBytes;
    value.end = value.start + rowBytes;
    const key = codec.encode(halves, i);
    sum?.add(halves[2 * i], halves[2 * i + 1], bytes, i * rowBytes, rowBytes);
    if (append) {
      const hi = codec.orderHigh(halves, i);
      const lo = halves[2 * i];
      const ascending = append.empty || hi > append.hi || (hi === append.hi && lo > append.lo);
      if (ascending) {
        append.empty = false;
        append.hi = hi;
        append.lo = lo;
        db.put(key, value, APPEND as unknown as number);
        continue;
      }
    }
    if (sum) {
      const old = db.getBinaryFast(key);
      if (old !== undefined) sum.remove(halves[2 * i], halves[2 * i + 1], old, 0, old.length);
    }
    db.put(key, value);
  }
}

export interface AppendState {
  empty: boolean;
  hi: number;
  lo: number;
}

// lmdb-js takes put options ({append}) where its typings only declare a version number.
const APPEND = { append: true };

