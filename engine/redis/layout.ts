import type { KeyType } from '../keys.js';

/*
 * HPS's Redis layout (HugeCTR redis_backend.cpp, before release 25.03), so that a cluster filled by HPS
 * is readable here and the other way round:
 *   - a table's tag is `hps_et.<model>.<table>`;
 *   - partition p of a table is the hash `hps_et{<tag>/p<p>}v`: field = the key's bytes (8 for int64,
 *     4 for uint32 keys, little-endian, as HPS wrote the C++ value), value = the vector's float32 bytes;
 *   - `hps_et{<tag>/p<p>}t` holds each key's overflow metadata: for evict_oldest the time of its last
 *     write (a little-endian int64 time_t, seconds), for evict_least_used an access count (a decimal
 *     integer, as HINCRBY keeps it). The braces make both hashes of a partition one cluster slot.
 */

/** The tag of a table: HPS's PS_EMBEDDING_TABLE_TAG_PREFIX, the model and the table. */
export function tableTag(model: string, table: string): string {
  return `hps_et.${model}.${table}`;
}

/** The hash of partition `part`: `v` for vectors, `t` for the overflow metadata. */
export function partitionHash(tag: string, part: number, suffix: 'v' | 't'): string {
  return `hps_et{${tag}/p${part}}${suffix}`;
}

/** Bytes of a key field. */
export function keyBytes(keyType: KeyType): number {
  return keyType === 'int64' ? 8 : 4;
}

/** The field of keys[i]: a view of its bytes in `keyBuf` (the keys' own memory). */
export function keyField(keyBuf: Buffer, i: number, width: number): Buffer {
  // Little-endian: a uint32 key is the low 4 bytes of its 64-bit slot.
  return keyBuf.subarray(i * 8, i * 8 + width);
}

/** The field bytes back to a key (bit pattern), for HKEYS replies. */
export function fieldKey(field: Buffer, width: number): bigint {
  return width === 8 ? field.readBigInt64LE(0) : BigInt(field.readUInt32LE(0));
}

/** A time_t in seconds as 8 little-endian bytes (HPS's evict_oldest metadata). */
export function timeField(seconds: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(Math.floor(seconds)), 0);
  return b;
}

/** Reads a metadata value for sorting: a time_t for evict_oldest, a count for evict_least_used. */
export function metaValue(value: Buffer, policy: 'evict_oldest' | 'evict_least_used'): number {
  if (policy === 'evict_oldest') return value.length === 8 ? Number(value.readBigInt64LE(0)) : 0;
  const n = Number(value.toString('latin1'));
  return Number.isFinite(n) ? n : 0;
}
