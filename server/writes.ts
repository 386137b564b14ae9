import { badRequest } from './errors.js';
import { int64Elements } from './tensors.js';

/**
 * Bodies of the table write endpoints (docs/server.md):
 * - binary (`Content-Type: application/octet-stream`): n keys (int64, little-endian) then, for an
 *   update, n x dim vector elements (float32, little-endian), with nothing between or after;
 * - JSON: `{"keys": [...], "vectors": [[...], ...]}` (vectors nested per key or flat); keys beyond 2^53
 *   as decimal strings. An erase has only `keys`.
 */
export interface WriteBody {
  keys: BigInt64Array;
  vectors: Float32Array | null;
}

export function parseWriteBody(body: Buffer | undefined, contentType: string | undefined, dim: number, withVectors: boolean, what: string): WriteBody {
  const bytes = body ?? Buffer.alloc(0);
  if (contentType?.startsWith('application/octet-stream')) {
    const rowBytes = withVectors ? 8 + dim * 4 : 8;
    if (bytes.length % rowBytes !== 0) {
      throw badRequest(`${what}: a binary body of ${bytes.length} bytes is not a whole number of ${withVectors ? `rows (8-byte key + ${dim} x 4-byte floats = ${rowBytes} bytes each, keys first then vectors)` : '8-byte keys'}`);
    }
    const n = bytes.length / rowBytes;
    const keys = int64Elements({ name: 'keys', datatype: 'INT64', shape: [n], bytes: bytes.subarray(0, n * 8), values: null }, n);
    if (!withVectors) return { keys, vectors: null };
    const vecBytes = bytes.subarray(n * 8);
    const vectors = vecBytes.byteOffset % 4 === 0 ? new Float32Array(vecBytes.buffer, vecBytes.byteOffset, n * dim) : new Float32Array(new Uint8Array(vecBytes).buffer);
    return { keys, vectors };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw badRequest(`${what}: malformed JSON in the request body: ${(e as Error).message} (send Content-Type: application/octet-stream for a binary body)`);
  }
  const o = parsed as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.keys)) throw badRequest(`${what}: expected a JSON object {"keys": [...]${withVectors ? ', "vectors": [[...], ...]' : ''}}`);
  const keys = int64Elements({ name: 'keys', datatype: 'INT64', shape: [o.keys.length], bytes: null, values: o.keys }, o.keys.length);
  if (!withVectors) return { keys, vectors: null };
  if (!Array.isArray(o.vectors)) throw badRequest(`${what}: "vectors" must be an array of ${keys.length} vectors of ${dim} numbers (nested or flat)`);
  const flat = (o.vectors as unknown[]).flat();
  if (flat.length !== keys.length * dim) throw badRequest(`${what}: "vectors" holds ${flat.length} numbers, expected ${keys.length} keys x dim ${dim} = ${keys.length * dim}`);
  const vectors = new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number' || !Number.isFinite(flat[i])) throw badRequest(`${what}: vectors element ${i} (${JSON.stringify(flat[i])}) is not a finite number`);
    vectors[i] = flat[i] as number;
  }
  return { keys, vectors };
}
