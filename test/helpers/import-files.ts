import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a HugeCTR sparse-model folder: `key` (int64 LE) and `emb_vector` (float32 rows). */
export function writeHugeCtr(folder: string, keys: BigInt64Array, vectors: Float32Array): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'key'), new Uint8Array(keys.buffer, keys.byteOffset, keys.byteLength));
  writeFileSync(join(folder, 'emb_vector'), new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
}

/** Writes a .npy file (format 1.0) the way numpy.save does. */
export function writeNpy(file: string, descr: string, shape: number[], data: ArrayBufferView, fortran = false): void {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

/** Writes JSON Lines rows `{"key": k, "vector": [...]}` (keys beyond 2^53 as strings). */
export function writeJsonl(file: string, keys: BigInt64Array, vectors: Float32Array, dim: number): void {
  const lines: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const key = k >= -(2n ** 53n) && k <= 2n ** 53n ? Number(k) : k.toString();
    lines.push(JSON.stringify({ key, vector: Array.from(vectors.subarray(i * dim, (i + 1) * dim)) }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** A file's bytes in an ArrayBuffer of their own (readFileSync may return a view into a shared pool). */
export function readBytes(file: string): ArrayBuffer {
  return new Uint8Array(readFileSync(file)).slice().buffer;
}
