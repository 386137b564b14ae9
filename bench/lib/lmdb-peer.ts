import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Key } from 'lmdb';

/** A table written into its own lmdb-js database and read back the way a Node user would: per key. */
export interface LmdbPeer {
  /** getBinaryFast per key, copying each row into row i of `out`. */
  lookup(keys: BigInt64Array, out: Float32Array): void;
  close(): Promise<void>;
}

/**
 * Writes `keys` with their float32 rows (`rows`, keys.length x dim) into a fresh lmdb-js environment
 * in a temp folder (bigint keys, ordered-binary encoding; binary values), 65,536 rows per transaction.
 * close() removes the folder.
 */
export async function openLmdbPeer(keys: BigInt64Array, rows: Float32Array, dim: number): Promise<LmdbPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'hps-bench-lmdb-peer-'));
  const env = open({ path: dir, compression: false, noSync: true, mapSize: Math.max(2 ** 26, rows.byteLength * 3) });
  const db = env.openDB({ name: 'table', encoding: 'binary' });
  const rowBytes = dim * 4;
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  try {
    const chunk = 65536;
    for (let start = 0; start < keys.length; start += chunk) {
      const end = Math.min(keys.length, start + chunk);
      await db.transaction(() => {
        for (let i = start; i < end; i++) db.put(keys[i] as unknown as Key, bytes.subarray(i * rowBytes, (i + 1) * rowBytes));
      });
    }
  } catch (err) {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    lookup(batch, out) {
      const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      // getBinaryFast returns a view of lmdb's reusable read buffer whose `length` is the value's size
      // but whose backing view is larger: copy exactly `length` bytes.
      for (let i = 0; i < batch.length; i++) {
        const v = db.getBinaryFast(batch[i] as unknown as Key);
        if (!v) throw new Error(`lmdb-js: key ${batch[i]} not found`);
        outBytes.set(v.subarray(0, v.length), i * rowBytes);
      }
    },
    async close() {
      await env.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
