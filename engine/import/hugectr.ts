import { existsSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { badArgument, HpsError } from '../errors.js';
import type { KeyType } from '../keys.js';
import type { LmdbStore } from '../lmdb/lmdb-store.js';
import { checkKeyRange, readExact, sizeError, type ImportSource, type RowChunk } from './source.js';

/** Bytes per key in a HugeCTR `key` file: 8 (int64, what HPS reads), or 4 for files of older HugeCTR versions. */
export type HugeCtrKeyBytes = 8 | 4;

/**
 * A HugeCTR sparse-model folder: `key` (little-endian keys of `keyBytes` each), `emb_vector` (float32
 * rows of dim, in the same order) and, where present, `slot_id` (one 8-byte slot per key). The key
 * width is what the caller says, never guessed from the sizes: HPS reads `key` as int64 whatever
 * `supportlonglong` says (a uint32 table narrows the keys, checked here against its range), so 8 is
 * the default, and 4 is for the files of HugeCTR versions that wrote `unsigned int` keys. Every size
 * is checked before anything is read; without `dim`, it is derived from the sizes.
 */
export function openHugeCtrFolder(folder: string, dim?: number, keyBytes: HugeCtrKeyBytes = 8): ImportSource {
  if (keyBytes !== 8 && keyBytes !== 4) {
    throw new HpsError('BAD_ARGUMENT', `HugeCTR folder ${folder}: keyBytes ${JSON.stringify(keyBytes)}: expected 8 (int64 keys, the default) or 4 (uint32 keys of older HugeCTR versions)`);
  }
  const keyFile = join(folder, 'key');
  const vectorFile = join(folder, 'emb_vector');
  const keyBytesTotal = fileSize(keyFile);
  const vectorBytes = fileSize(vectorFile);
  const width = `${keyBytes === 8 ? 'int64' : 'uint32'} keys (${keyBytes} bytes each${keyBytes === 8 ? ', as HPS reads them' : ''})`;
  if (keyBytesTotal % keyBytes !== 0) {
    throw sizeError(keyFile, `${keyBytesTotal} bytes is not a whole number of ${width}`, Math.floor(keyBytesTotal / keyBytes) * keyBytes, keyBytesTotal);
  }
  const rows = keyBytesTotal / keyBytes;
  if (dim === undefined) {
    if (rows === 0 || vectorBytes % (rows * 4) !== 0 || vectorBytes === 0) {
      throw new HpsError('BAD_FILE', `${vectorFile}: ${vectorBytes} bytes is not ${rows} keys x dim x 4 bytes for any whole dim >= 1 (${keyFile} holds ${rows} ${width})`);
    }
    dim = vectorBytes / (rows * 4);
  }
  if (vectorBytes !== rows * dim * 4) throw mismatch(keyFile, vectorFile, keyBytesTotal, vectorBytes, rows, dim, keyBytes, width);
  checkSlotIds(folder, rows, width);
  const rowDim = dim;
  return {
    description: `HugeCTR folder ${folder}${keyBytes === 4 ? ' (uint32 keys)' : ''}`,
    dim: rowDim,
    totalRows: rows,
    files: [keyFile, vectorFile],
    chunks: (maxRows: number, keyType: KeyType) =>
      keyBytes === 8
        ? readPair(keyFile, vectorFile, 0, 0, rows, rowDim, maxRows, keyType)
        : readPair32(keyFile, vectorFile, 0, 0, rows, rowDim, maxRows, keyType, false),
  };
}

/** `key` and `emb_vector` disagree: says which row count each implies, and what would make them agree. */
function mismatch(keyFile: string, vectorFile: string, keyTotal: number, vectorBytes: number, rows: number, dim: number, keyBytes: number, width: string): HpsError {
  const vectorRows = vectorBytes / (dim * 4);
  const fits = Number.isInteger(vectorRows)
    ? `${vectorFile} (${vectorBytes} bytes) holds ${vectorRows} rows of dim ${dim}, which needs ${keyFile} of ${vectorRows * keyBytes} bytes`
    : `${vectorFile} (${vectorBytes} bytes) is not a whole number of rows of dim ${dim} (${dim * 4} bytes each)`;
  const other = keyBytes === 8 ? 4 : 8;
  const hint = Number.isInteger(vectorRows) && vectorRows * other === keyTotal
    ? `; the sizes would fit ${other}-byte keys: if the files hold them, import with keyBytes ${other} (hps import --key-bytes ${other}), else check dim and the files`
    : '';
  return new HpsError('BAD_FILE', `${keyFile}: ${keyTotal} bytes is ${rows} ${width}, so ${vectorFile} should be ${rows} x dim ${dim} x 4 = ${rows * dim * 4} bytes, found ${vectorBytes} bytes; ${fits}${hint}`);
}

/** A `slot_id` file (8 bytes per key, written beside `key` by HugeCTR's localized embeddings) must count the same keys. */
function checkSlotIds(folder: string, rows: number, width: string): void {
  const slotFile = join(folder, 'slot_id');
  if (!existsSync(slotFile)) return;
  const bytes = fileSize(slotFile);
  if (bytes !== rows * 8) {
    throw new HpsError('BAD_FILE', `${slotFile}: ${bytes} bytes, expected ${rows} keys x 8 = ${rows * 8} bytes (${join(folder, 'key')} holds ${rows} ${width}${bytes % 8 === 0 ? `; slot_id counts ${bytes / 8}` : ''})`);
  }
}

/**
 * Reads `rows` int64 keys and float32 rows from two files starting at byte offsets `keyOffset` and
 * `vectorOffset` (shared with .npy files whose keys are int64).
 */
export async function* readPair(keyFile: string, vectorFile: string, keyOffset: number, vectorOffset: number, rows: number, dim: number, maxRows: number, keyType: KeyType): AsyncGenerator<RowChunk> {
  const keysFh = await open(keyFile, 'r');
  const vectorsFh = await open(vectorFile, 'r');
  try {
    const keys = new BigInt64Array(Math.min(maxRows, rows));
    const vectors = new Float32Array(keys.length * dim);
    const halves = new Uint32Array(keys.buffer);
    for (let start = 0; start < rows; start += keys.length) {
      const n = Math.min(keys.length, rows - start);
      await readExact(keysFh, new Uint8Array(keys.buffer, 0, n * 8), keyOffset + start * 8, keyFile);
      await readExact(vectorsFh, new Uint8Array(vectors.buffer, 0, n * dim * 4), vectorOffset + start * dim * 4, vectorFile);
      checkKeyRange(halves, n, keyType, keyFile, start, keyOffset, 8);
      yield { keys: keys.subarray(0, n), vectors: vectors.subarray(0, n * dim) };
    }
  } finally {
    await keysFh.close();
    await vectorsFh.close();
  }
}

/** Reads 32-bit keys (uint32, or int32 when `signed`), widening them to int64 bit patterns. */
export async function* readPair32(keyFile: string, vectorFile: string, keyOffset: number, vectorOffset: number, rows: number, dim: number, maxRows: number, keyType: KeyType, signed: boolean): AsyncGenerator<RowChunk> {
  const keysFh = await open(keyFile, 'r');
  const vectorsFh = await open(vectorFile, 'r');
  try {
    const n0 = Math.min(maxRows, rows);
    const narrow = new Uint32Array(n0);
    const keys = new BigInt64Array(n0);
    const halves = new Uint32Array(keys.buffer);
    const vectors = new Float32Array(n0 * dim);
    for (let start = 0; start < rows; start += n0) {
      const n = Math.min(n0, rows - start);
      await readExact(keysFh, new Uint8Array(narrow.buffer, 0, n * 4), keyOffset + start * 4, keyFile);
      await readExact(vectorsFh, new Uint8Array(vectors.buffer, 0, n * dim * 4), vectorOffset + start * dim * 4, vectorFile);
      for (let i = 0; i < n; i++) {
        const v = narrow[i];
        halves[2 * i] = v;
        halves[2 * i + 1] = signed && v >= 0x80000000 ? 0xffffffff : 0;
      }
      checkKeyRange(halves, n, keyType, keyFile, start, keyOffset, 4);
      yield { keys: keys.subarray(0, n), vectors: vectors.subarray(0, n * dim) };
    }
  } finally {
    await keysFh.close();
    await vectorsFh.close();
  }
}

export interface ExportReport {
  folder: string;
  rows: number;
  bytes: number;
  seconds: number;
}

/**
 * Writes `table` as a HugeCTR folder (`key` int64 LE for every table, uint32 ones included, as HugeCTR
 * writes and HPS reads it; `emb_vector` float32 rows) in ascending key order. Files are written
 * under fresh temporary names, created exclusively (a file or symlink planted at such a name is never
 * followed or overwritten), and renamed when complete. Any failure is an HpsError IO naming the folder;
 * nothing is left behind.
 */
export async function exportHugeCtrFolder(store: LmdbStore, table: string, folder: string): Promise<ExportReport> {
  if (typeof folder !== 'string' || folder === '') throw badArgument(`export of model ${store.model} table ${table}: folder`, 'a folder path', folder);
  const started = performance.now();
  const tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const keyTmp = join(folder, `.key.partial-${tag}`);
  const vectorTmp = join(folder, `.emb_vector.partial-${tag}`);
  let keysFh: FileHandle | null = null;
  let vectorsFh: FileHandle | null = null;
  let rows = 0;
  let bytes = 0;
  try {
    await mkdir(folder, { recursive: true });
    keysFh = await open(keyTmp, 'wx');
    vectorsFh = await open(vectorTmp, 'wx');
    for (const { keys, vectors } of store.scan(table)) {
      await writeAll(keysFh, new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength));
      await writeAll(vectorsFh, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
      rows += keys.length;
      bytes += keys.byteLength + vectors.byteLength;
    }
    await keysFh.close();
    await vectorsFh.close();
    await rename(keyTmp, join(folder, 'key'));
    await rename(vectorTmp, join(folder, 'emb_vector'));
  } catch (e) {
    await keysFh?.close().catch(() => undefined);
    await vectorsFh?.close().catch(() => undefined);
    if (keysFh) await rm(keyTmp, { force: true });
    if (vectorsFh) await rm(vectorTmp, { force: true });
    if (e instanceof HpsError) throw e;
    throw new HpsError('IO', `model ${store.model} table ${table}: cannot export to ${folder}: ${describeFsError(e)}; expected a folder that exists or can be created, with room for ${store.table(table)?.count ?? 0} rows`, { cause: e });
  }
  return { folder, rows, bytes, seconds: (performance.now() - started) / 1000 };
}

/**
 * Writes all of `bytes`. A file handle's write may write fewer bytes than asked (a file system that
 * fills up does, before it fails with ENOSPC), so it loops until every byte is written or a write fails.
 */
async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device (a write made no progress)'), { code: 'ENOSPC' });
    at += bytesWritten;
  }
}

/** A file-system error in words (Node's "ENOSPC: no space left on device" reads as I/O noise). */
function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = { ENOSPC: 'disk full', EDQUOT: 'disk quota exceeded', ENOTDIR: 'a part of the path is not a folder', EEXIST: 'a temporary file name is taken', EACCES: 'permission denied' };
  return code && why[code] ? `${why[code]} (${(e as Error).message})` : (e as Error).message;
}

export function fileSize(file: string): number {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new HpsError('BAD_FILE', `${file}: not a regular file`);
    return st.size;
  } catch (e) {
    if (e instanceof HpsError) throw e;
    throw new HpsError('BAD_FILE', `${file}: cannot read: ${(e as Error).message}`, { cause: e });
  }
}
