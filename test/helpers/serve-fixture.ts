import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParameterServer, createServer, type HpsServer, type ServeOptions } from '../../engine/index.js';
import { writeHugeCtr } from './import-files.js';
import { randomInt64Keys, randomVectors, rng, tempDir } from './lmdb-random.js';

/**
 * A ps.json model `m` of two random tables written as HugeCTR folders: `a` (dim 8, keys over the whole
 * int64 range) and `b` (dim 5, keys within +-2^53 so that JSON can carry them), served on loopback
 * ports picked by the system. `expected` builds OUTPUT0 from the files' own bytes.
 */
export const DIMS = [8, 5];
export const DEFAULTS = [0.5, -2];
export const MAX_BATCH = 4;
export const MAX_QUERY = [100, 60];

export interface Fixture {
  dir: { path: string; remove: () => void };
  psJson: string;
  keys: BigInt64Array[];
  /** The `emb_vector` files as read back from disk. */
  files: Float32Array[];
  write(table: number, vectors: Float32Array): void;
}

export function fixture(name: string, rows = [3000, 2000]): Fixture {
  const dir = tempDir(name);
  const keys = [randomInt64Keys(rows[0], 11), safeKeys(rows[1], 12)];
  const f: Fixture = {
    dir, keys, files: [], psJson: join(dir.path, 'ps.json'),
    write(table, vectors) {
      writeHugeCtr(join(dir.path, 'sparse', `t${table}`), keys[table], vectors);
      f.files[table] = new Float32Array(new Uint8Array(readFileSync(join(dir.path, 'sparse', `t${table}`, 'emb_vector'))).buffer);
    },
  };
  f.write(0, randomVectors(rows[0], DIMS[0], 13));
  f.write(1, randomVectors(rows[1], DIMS[1], 14));
  writeFileSync(f.psJson, JSON.stringify({
    supportlonglong: true,
    models: [{
      model: 'm',
      sparse_files: ['sparse/t0', 'sparse/t1'],
      embedding_table_names: ['a', 'b'],
      embedding_vecsize_per_table: DIMS,
      default_value_for_each_table: DEFAULTS,
      maxnum_catfeature_query_per_table_per_sample: MAX_QUERY,
      max_batch_size: MAX_BATCH,
      deployed_device_list: [0],
    }],
    volatile_db: { type: 'parallel_hash_map' },
    persistent_db: { type: 'rocks_db', path: 'store' },
    worker_threads: 1,
  }));
  return f;
}

/** `n` distinct random keys in [-2^53, 2^53]. */
function safeKeys(n: number, seed: number): BigInt64Array {
  const next = rng(seed);
  const seen = new Set<number>();
  const out = new BigInt64Array(n);
  for (let i = 0; i < n;) {
    const k = (next() % 2 ** 21) * 2 ** 32 + next() - 2 ** 52;
    if (seen.has(k)) continue;
    seen.add(k);
    out[i++] = BigInt(k);
  }
  return out;
}

/** A probe of table `t`: stored keys at `picks` (-1 picks an absent key). */
export function probe(f: Fixture, t: number, picks: number[]): BigInt64Array {
  return BigInt64Array.from(picks, (p, i) => (p < 0 ? BigInt(7_000_000_000_000 + i) : f.keys[t][p]));
}

/** OUTPUT0 from the files: each picked row's bytes, or the table's default vector for -1. */
export function expected(f: Fixture, picks: number[][]): Float32Array {
  const parts: number[] = [];
  picks.forEach((rows, t) => {
    for (const p of rows) {
      if (p < 0) parts.push(...new Array(DIMS[t]).fill(DEFAULTS[t]));
      else parts.push(...f.files[t].subarray(p * DIMS[t], (p + 1) * DIMS[t]));
    }
  });
  return Float32Array.from(parts);
}

export function randomPicks(n: number, rows: number, seed: number, absentEvery = 5): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, (_, i) => (i % absentEvery === absentEvery - 1 ? -1 : next() % rows));
}

export async function serve(f: Fixture, options: ServeOptions = {}): Promise<{ ps: ParameterServer; server: HpsServer; http: string; close: () => Promise<void> }> {
  const ps = await ParameterServer.open(f.psJson, { progress: false, log: () => {}, warn: () => {} });
  const server = createServer(ps, { httpPort: 0, grpcPort: null, metricsPort: null, log: () => {}, ...options });
  const { http } = await server.listen();
  return { ps, server, http: `http://127.0.0.1:${http.port}`, close: async () => { await server.close(); await ps.close(); } };
}

/** A binary-extension infer request body: JSON header then KEYS and NUMKEYS bytes. */
export function binaryInfer(keys: BigInt64Array, numKeys: number[], extra: Record<string, unknown> = {}): { body: Buffer; headers: Record<string, string> } {
  const counts = Int32Array.from(numKeys);
  const header = JSON.stringify({
    inputs: [
      { name: 'KEYS', datatype: 'INT64', shape: [1, keys.length], parameters: { binary_data_size: keys.byteLength } },
      { name: 'NUMKEYS', datatype: 'INT32', shape: [1, counts.length], parameters: { binary_data_size: counts.byteLength } },
    ],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    ...extra,
  });
  const body = Buffer.concat([Buffer.from(header), Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength), Buffer.from(counts.buffer)]);
  return { body, headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)), 'Content-Type': 'application/octet-stream' } };
}

/** Splits a binary infer response into its JSON header and OUTPUT0's bytes. */
export async function binaryOutput(res: Response): Promise<{ header: Record<string, unknown>; output: Buffer }> {
  const body = Buffer.from(await res.arrayBuffer());
  const length = Number(res.headers.get('inference-header-content-length'));
  return { header: JSON.parse(body.toString('utf8', 0, length)), output: body.subarray(length) };
}

export function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
