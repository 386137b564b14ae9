import fs, { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { HpsError, looksLikeText } from '../errors.js';
import type { KeyType } from '../keys.js';
import { fileSize } from './hugectr.js';
import type { ImportSource, RowChunk } from './source.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** The largest finite float32, (2 - 2^-23) x 2^127. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * JSON Lines for small tables: one `{"key": 1, "vector": [0.1, ...]}` per line (blank lines skipped).
 * A key is a safe integer or a decimal string (for int64 keys beyond 2^53). `dim` defaults to the
 * length of the first vector. Every error names the line.
 */
export function openJsonl(file: string, dim?: number): ImportSource {
  fileSize(file);
  const source = {
    description: `JSONL file ${file}`,
    dim: dim ?? 0,
    totalRows: null,
    files: [file],
    chunks: (maxRows: number, keyType: KeyType) => readJsonl(file, source, maxRows, keyType),
  };
  if (dim === undefined) source.dim = firstDim(file);
  return source;
}

function firstDim(file: string): number {
  // Small tables: the first line is read synchronously to learn dim before the import starts.
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8');
    const lines = text.split('\n');
    const index = lines.findIndex((l) => l.trim() !== '');
    if (index < 0) throw noRows(file);
    const vector = parseLine(lines[index], file, index + 1).vector;
    return vector.length;
  } finally {
    fs.closeSync(fd);
  }
}

async function* readJsonl(file: string, source: { dim: number }, maxRows: number, keyType: KeyType): AsyncGenerator<RowChunk> {
  const dim = source.dim;
  const keys = new BigInt64Array(maxRows);
  const vectors = new Float32Array(maxRows * dim);
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  let total = 0;
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    const { key, vector } = parseLine(line, file, lineNo);
    keys[n] = checkKey(key, keyType, file, lineNo);
    if (vector.length !== dim) throw new HpsError('BAD_VECTOR', `${file}:${lineNo}: "vector" has ${vector.length} values, expected dim ${dim}`);
    for (let k = 0; k < dim; k++) {
      const v = vector[k];
      if (typeof v !== 'number') throw new HpsError('BAD_VECTOR', `${file}:${lineNo}: "vector"[${k}] is ${JSON.stringify(v)}, expected a number`);
      // Stored as float32: a value beyond its range would silently become Infinity.
      if (!Number.isFinite(Math.fround(v))) {
        throw new HpsError('BAD_VECTOR', `${file}:${lineNo}: "vector"[${k}] is ${v}, beyond the float32 range: expected a value of magnitude at most ${FLOAT32_MAX}`);
      }
      vectors[n * dim + k] = v;
    }
    total++;
    if (++n === maxRows) {
      yield { keys, vectors };
      n = 0;
    }
  }
  // An empty file is a mistake (a failed export, a wrong path), never a table of 0 rows replacing one.
  if (total === 0) throw noRows(file);
  if (n > 0) yield { keys: keys.subarray(0, n), vectors: vectors.subarray(0, n * dim) };
}

function noRows(file: string): HpsError {
  return new HpsError('BAD_FILE', `${file}: no rows (expected one {"key": ..., "vector": [...]} per line)`);
}

function parseLine(line: string, file: string, lineNo: number): { key: unknown; vector: unknown[] } {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    // V8's message quotes the line; a binary file given by mistake is named, never quoted.
    if (!looksLikeText(line)) throw new HpsError('BAD_FILE', `${file}:${lineNo}: not JSON Lines text (the line holds binary bytes); expected one {"key": ..., "vector": [...]} per line`);
    throw new HpsError('BAD_FILE', `${file}:${lineNo}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof row !== 'object' || row === null || !('key' in row) || !('vector' in row)) {
    throw new HpsError('BAD_FILE', `${file}:${lineNo}: expected an object {"key": ..., "vector": [...]}`);
  }
  const { key, vector } = row as { key: unknown; vector: unknown };
  if (!Array.isArray(vector)) throw new HpsError('BAD_VECTOR', `${file}:${lineNo}: "vector" is ${JSON.stringify(vector)}, expected an array of numbers`);
  return { key, vector };
}

function checkKey(key: unknown, keyType: KeyType, file: string, lineNo: number): bigint {
  let value: bigint;
  if (typeof key === 'number' && Number.isSafeInteger(key)) value = BigInt(key);
  else if (typeof key === 'string' && /^-?\d+$/.test(key)) value = BigInt(key);
  else throw new HpsError('BAD_KEY', `${file}:${lineNo}: "key" ${JSON.stringify(key)} is not valid: expected a safe integer or a decimal string`);
  const [min, max] = keyType === 'uint32' ? [0n, 4294967295n] : [INT64_MIN, INT64_MAX];
  if (value < min || value > max) throw new HpsError('BAD_KEY', `${file}:${lineNo}: "key" ${value} is out of range: expected an integer in [${min}, ${max}] for a ${keyType} table`);
  return value;
}
