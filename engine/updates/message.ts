import type { KeyType } from '../keys.js';
import { tableTag } from '../redis/layout.js';

/*
 * The update message format. One Redis stream per table, named `<stream_prefix><tag>` where the tag is
 * `hps_et.<model>.<table>` (HPS's table tag; the default prefix is empty). Each stream entry is one
 * batch of rows, with binary fields:
 *   keys     n keys, little-endian int64 (8 bytes each, also for uint32 tables)
 *   vectors  n x dim little-endian float32, row after row
 *   table    optional: the table's tag; an entry naming another table is skipped as "unknown table"
 * From Python (numpy, redis-py):
 *   r.xadd('hps_et.wdl.user', {'keys': np.asarray(keys, '<i8').tobytes(), 'vectors': np.asarray(vecs, '<f4').tobytes()})
 */

export function streamKey(prefix: string, model: string, table: string): string {
  return `${prefix}${tableTag(model, table)}`;
}

/** The fields of a message for `keys` and `vectors` (keys.length x dim), ready for XADD. */
export function encodeMessage(tag: string, keys: BigInt64Array, vectors: Float32Array): Buffer[] {
  return [
    Buffer.from('keys'), Buffer.from(new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength)),
    Buffer.from('vectors'), Buffer.from(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength)),
    Buffer.from('table'), Buffer.from(tag),
  ];
}

export type Decoded = { keys: BigInt64Array; vectors: Float32Array } | { problem: string; unknownTable: boolean };

/** Decodes one entry's flat [field, value, ...] list for a table of `dim` and `keyType`, or says what is wrong. */
export function decodeMessage(fields: Buffer[], tag: string, dim: number, keyType: KeyType): Decoded {
  const get = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i].toString('latin1') === name) return fields[i + 1];
    return undefined;
  };
  const table = get('table');
  if (table !== undefined && table.toString() !== tag) {
    return { problem: `names table ${JSON.stringify(table.toString())}, but this stream is table ${tag}`, unknownTable: true };
  }
  const k = get('keys');
  const v = get('vectors');
  if (k === undefined || v === undefined) return { problem: 'lacks a "keys" or a "vectors" field', unknownTable: false };
  if (k.length % 8 !== 0) return { problem: `"keys" has ${k.length} bytes, expected a multiple of 8 (little-endian int64 keys)`, unknownTable: false };
  const n = k.length / 8;
  if (v.length !== n * dim * 4) {
    return { problem: `"vectors" has ${v.length} bytes, expected ${n} keys x dim ${dim} x 4 = ${n * dim * 4}`, unknownTable: false };
  }
  // Copies: aligned, and independent of the reply's buffers.
  const keys = new BigInt64Array(n);
  new Uint8Array(keys.buffer).set(k);
  const vectors = new Float32Array(n * dim);
  new Uint8Array(vectors.buffer).set(v);
  if (keyType === 'uint32') {
    const halves = new Uint32Array(keys.buffer);
    for (let i = 0; i < n; i++) {
      if (halves[2 * i + 1] !== 0) return { problem: `key ${i} is ${keys[i]}, expected an integer in [0, 4294967295] for a uint32 table`, unknownTable: false };
    }
  }
  return { keys, vectors };
}

/** Keeps the last row of each key (later messages win), in first-seen order. */
export function lastWins(keys: BigInt64Array, vectors: Float32Array, dim: number): { keys: BigInt64Array; vectors: Float32Array } {
  const last = new Map<bigint, number>();
  for (let i = 0; i < keys.length; i++) last.set(keys[i], i);
  if (last.size === keys.length) return { keys, vectors };
  const k = new BigInt64Array(last.size);
  const v = new Float32Array(last.size * dim);
  let j = 0;
  for (const [key, i] of last) {
    k[j] = key;
    v.set(vectors.subarray(i * dim, (i + 1) * dim), j * dim);
    j++;
  }
  return { keys: k, vectors: v };
}
