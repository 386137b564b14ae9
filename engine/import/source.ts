import type { FileHandle } from 'node:fs/promises';
import { HpsError } from '../errors.js';
import type { KeyType } from '../keys.js';

/** One chunk of rows from an import source: `vectors` is keys.length x dim. Buffers may be reused. */
export interface RowChunk {
  keys: BigInt64Array;
  vectors: Float32Array;
}

/** A table's rows in some file format, read in bounded chunks. */
export interface ImportSource {
  /** Human-readable origin, e.g. "HugeCTR folder /m/t0" (stored in the table's metadata). */
  readonly description: string;
  readonly dim: number;
  /** Rows in the source when known up front (binary formats); null for JSONL. */
  readonly totalRows: number | null;
  /** The files read, for the fingerprint. */
  readonly files: string[];
  /** Yields the rows in file order, at most `maxRows` per chunk, keys checked against `keyType`. */
  chunks(maxRows: number, keyType: KeyType): AsyncGenerator<RowChunk>;
}

/** Rows per chunk so that one chunk of keys and vectors is about `bytes`. */
export function chunkRowsFor(dim: number, bytes = 16 << 20): number {
  return Math.max(256, Math.floor(bytes / (dim * 4 + 8)));
}

/** Reads exactly `into.length` bytes at `position` or fails naming the file and where it ended. */
export async function readExact(fh: FileHandle, into: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) {
      throw new HpsError('BAD_FILE', `${file}: truncated while importing: ended at byte ${position + done}, expected at least ${position + into.length} bytes`);
    }
    done += bytesRead;
  }
}

/**
 * Checks that keys (halves of an int64 chunk) fit a uint32 table; int64 tables take any bit pattern.
 * `firstIndex` is the index of the chunk's first key in the file, `offset`/`itemBytes` where key data
 * starts and how wide a key is there, so the error gives the byte offset.
 */
export function checkKeyRange(halves: Uint32Array, n: number, keyType: KeyType, file: string, firstIndex: number, offset: number, itemBytes: number): void {
  if (keyType !== 'uint32') return;
  for (let i = 0; i < n; i++) {
    const hi = halves[2 * i + 1];
    if (hi !== 0) {
      const value = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(halves[2 * i]));
      const index = firstIndex + i;
      throw new HpsError('BAD_KEY', `${file}: key ${index} (byte offset ${offset + index * itemBytes}) is ${value}: expected an integer in [0, 4294967295] for a uint32 table`);
    }
  }
}

export function sizeError(file: string, what: string, expected: number, actual: number): HpsError {
  return new HpsError('BAD_FILE', `${file}: ${what}: expected ${expected} bytes, found ${actual} bytes`);
}
