// A runnable example: write a small HugeCTR sparse model, open it through typed options (the first
// open imports it into LMDB), look up keys, and close. Run: npm run build && node dist/examples/basic-lookup.js
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterServer } from '../engine/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hps-example-'));
try {
  // 1000 keys (some negative) x dim 4, random vectors, in HugeCTR's format: `key` int64 LE, `emb_vector` float32.
  const dim = 4;
  const keys = BigInt64Array.from({ length: 1000 }, (_, i) => BigInt(i * 7919 - 3000));
  const vectors = Float32Array.from({ length: keys.length * dim }, () => Math.random() * 2 - 1);
  mkdirSync(join(dir, 'items'));
  writeFileSync(join(dir, 'items', 'key'), new Uint8Array(keys.buffer));
  writeFileSync(join(dir, 'items', 'emb_vector'), new Uint8Array(vectors.buffer));

  const ps = await ParameterServer.open({
    baseDir: dir,
    workerThreads: 0,
    models: [{ name: 'ranker', tables: [{ name: 'items', dim, defaultValue: 0, sparseFile: 'items' }] }],
    persistentDb: { path: 'store' },
  });
  const [imported] = ps.info().importsAtOpen;
  console.log(`imported ${imported.rows} rows in ${imported.seconds.toFixed(3)} s`);

  // Keys as a BigInt64Array (or BigUint64Array, Int32Array, Uint32Array, number[]); one Float32Array back.
  const out = await ps.lookup('ranker', 'items', BigInt64Array.of(keys[0], keys[999], 42n));
  for (let i = 0; i < 3; i++) console.log(Array.from(out.subarray(i * dim, (i + 1) * dim), (v) => v.toFixed(3)).join(' '));
  // key 42 is in no tier: it gets the default vector (0 0 0 0)
  await ps.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
