import { open } from 'node:fs/promises';
import { HpsError, looksLikeText, textExcerpt } from '../errors.js';
import type { KeyType } from '../keys.js';
import { fileSize, readPair, readPair32 } from './hugectr.js';
import { readExact, sizeError, type ImportSource } from './source.js';

/** What the header of a .npy file says (format versions 1.0, 2.0 and 3.0). */
export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset where the array data starts. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const KEY_TYPES: Record<string, number> = { '<i8': 8, '<u4': 4, '<i4': 4 };

/** Parses the header at the start of a .npy file (`head` holds at least its first 64 KiB). */
export function parseNpyHeader(head: Uint8Array, file: string): NpyHeader {
  if (head.length < 10 || MAGIC.some((b, i) => head[i] !== b)) throw new HpsError('BAD_FILE', `${file}: not a .npy file (byte 0: expected the magic string \\x93NUMPY)`);
  const major = head[6];
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let start: number;
  let length: number;
  if (major === 1) [start, length] = [10, view.getUint16(8, true)];
  else if (major === 2 || major === 3) [start, length] = [12, head.length >= 12 ? view.getUint32(8, true) : -1];
  else throw new HpsError('BAD_FILE', `${file}: .npy format version ${major} (byte 6): expected 1, 2 or 3`);
  if (length < 0 || start + length > head.length) throw new HpsError('BAD_FILE', `${file}: the .npy header (byte ${start}, ${length} bytes) runs past the end of the file`);
  const text = new TextDecoder('latin1').decode(head.subarray(start, start + length));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    const shown = looksLikeText(text) ? `, it begins ${textExcerpt(text.trim(), 0, 40)}` : ' (and is not text)';
    throw new HpsError('BAD_FILE', `${file}: .npy header at byte ${start} is not a dict with 'descr', 'fortran_order' and 'shape'${shown}`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new HpsError('BAD_FILE', `${file}: .npy shape (${shapeText}) is not a tuple of sizes`);
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + length };
}

async function readHeader(file: string): Promise<NpyHeader> {
  // Every failure to read is BAD_FILE naming the file, never a raw ENOENT or EACCES.
  const size = fileSize(file);
  const fh = await open(file, 'r').catch((e: Error) => {
    throw new HpsError('BAD_FILE', `${file}: cannot read: ${e.message}`, { cause: e });
  });
  try {
    const head = new Uint8Array(Math.min(size, 65536 + 12));
    await readExact(fh, head, 0, file);
    return parseNpyHeader(head, file);
  } finally {
    await fh.close();
  }
}

/**
 * A pair of .npy files: keys (1-D, or N x 1; int64, uint32 or int32, little-endian) and vectors
 * (N x dim float32, C order). Shapes and byte counts are checked before anything is imported.
 */
export async function openNpyPair(keyFile: string, vectorFile: string, dim?: number): Promise<ImportSource> {
  const kh = await readHeader(keyFile);
  const vh = await readHeader(vectorFile);
  const keyBytes = KEY_TYPES[kh.descr];
  if (keyBytes === undefined) throw new HpsError('BAD_FILE', `${keyFile}: key dtype '${kh.descr}': expected '<i8' (int64), '<u4' (uint32) or '<i4' (int32)`);
  if (kh.shape.length < 1 || kh.shape.length > 2 || (kh.shape.length === 2 && kh.shape[1] !== 1)) {
    throw new HpsError('BAD_FILE', `${keyFile}: key array of shape (${kh.shape.join(', ')}): expected (N,) or (N, 1)`);
  }
  if (vh.descr !== '<f4') throw new HpsError('BAD_FILE', `${vectorFile}: vector dtype '${vh.descr}': expected '<f4' (float32)`);
  if (vh.fortranOrder) throw new HpsError('BAD_FILE', `${vectorFile}: vectors are in Fortran order: expected C order (numpy.ascontiguousarray)`);
  if (vh.shape.length !== 2) throw new HpsError('BAD_FILE', `${vectorFile}: vector array of shape (${vh.shape.join(', ')}): expected (N, dim)`);
  const rows = kh.shape[0];
  const [vrows, vdim] = vh.shape;
  if (vrows !== rows) throw new HpsError('BAD_FILE', `${vectorFile}: ${vrows} vectors for ${rows} keys in ${keyFile}: expected the same count`);
  if (dim !== undefined && vdim !== dim) throw new HpsError('BAD_FILE', `${vectorFile}: vectors of dim ${vdim}: expected dim ${dim}`);
  const keyData = fileSize(keyFile) - kh.dataOffset;
  if (keyData !== rows * keyBytes) throw sizeError(keyFile, `data after the header (byte ${kh.dataOffset}) for ${rows} keys of ${keyBytes} bytes`, rows * keyBytes, keyData);
  const vectorData = fileSize(vectorFile) - vh.dataOffset;
  if (vectorData !== rows * vdim * 4) throw sizeError(vectorFile, `data after the header (byte ${vh.dataOffset}) for ${rows} x ${vdim} float32`, rows * vdim * 4, vectorData);
  return {
    description: `npy files ${keyFile} ${vectorFile}`,
    dim: vdim,
    totalRows: rows,
    files: [keyFile, vectorFile],
    chunks: (maxRows: number, keyType: KeyType) =>
      keyBytes === 8
        ? readPair(keyFile, vectorFile, kh.dataOffset, vh.dataOffset, rows, vdim, maxRows, keyType)
        : readPair32(keyFile, vectorFile, kh.dataOffset, vh.dataOffset, rows, vdim, maxRows, keyType, kh.descr === '<i4'),
  };
}
