import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { exportHugeCtrFolder, importTable, openHugeCtrFolder, openJsonl, openNpyPair } from '../engine/import/index.js';
import { randomInt64Keys, randomUint32Keys, randomVectors, row, tempDir } from './helpers/lmdb-random.js';
import { readBytes, writeHugeCtr, writeJsonl, writeNpy } from './helpers/import-files.js';

const dir = tempDir('import-formats');
test.after(() => dir.remove());

/** Every source row must be served (the last occurrence of a repeated key wins). */
function checkTable(store: LmdbStore, table: string, keys: BigInt64Array, vectors: Float32Array, dim: number): void {
  const expected = new Map<bigint, number[]>();
  for (let i = 0; i < keys.length; i++) expected.set(keys[i], row(vectors, i, dim));
  const out = new Float32Array(keys.length * dim);
  assert.is(store.get(table, keys, out).length, 0, 'every key found');
  for (let i = 0; i < keys.length; i++) assert.equal(row(out, i, dim), expected.get(keys[i]), `key ${keys[i]}`);
  assert.is(store.table(table)!.count, expected.size);
}

test('HugeCTR folder, sorted in memory and through many runs spilled to files (with repeated keys)', async () => {
  const dim = 8;
  const keys = randomInt64Keys(5000, 21);
  keys.set(keys.subarray(0, 300), 4700); // repeats: the later rows must win
  const vectors = randomVectors(5000, dim, 22);
  const folder = join(dir.path, 'hugectr');
  writeHugeCtr(folder, keys, vectors);
  const store = LmdbStore.open(dir.path, 'hc');
  const one = await importTable(store, 'a', openHugeCtrFolder(folder, dim), { keyType: 'int64', progress: false });
  assert.is(one.report.rows, 5000);
  assert.is(one.report.count, 4700);
  assert.ok(one.report.keysPerSecond > 0);
  checkTable(store, 'a', keys, vectors, dim);
  const phases = new Set<string>();
  await importTable(store, 'b', openHugeCtrFolder(folder), { keyType: 'int64', progress: false, memoryBudget: 0, runRows: 700, chunkRows: 300, onProgress: (p) => phases.add(p) });
  assert.equal([...phases].sort(), ['sort', 'store']);
  checkTable(store, 'b', keys, vectors, dim);
  assert.is(store.table('b')!.dim, dim, 'dim derived from the file sizes');
  assert.equal(readdirSync(store.path).filter((n) => n.startsWith('.import-runs')), [], 'run files removed');
  await store.close();
});

test('HugeCTR folder with 4-byte uint32 keys (keyBytes 4, older HugeCTR versions), exported as 8-byte keys as HPS reads them', async () => {
  const dim = 6;
  const keys = randomUint32Keys(900, 31);
  const vectors = randomVectors(900, dim, 32);
  const folder = join(dir.path, 'hugectr32');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'key'), Uint32Array.from(keys, Number));
  writeFileSync(join(folder, 'emb_vector'), vectors);
  const store = LmdbStore.open(dir.path, 'hc32');
  await importTable(store, 'u', openHugeCtrFolder(folder, dim, 4), { keyType: 'uint32', progress: false });
  checkTable(store, 'u', keys, vectors, dim);
  const out = join(dir.path, 'exported32');
  await exportHugeCtrFolder(store, 'u', out);
  const ek = new BigInt64Array(readBytes(join(out, 'key')));
  assert.equal(Array.from(ek, Number), Array.from(keys, Number).sort((a, b) => a - b));
  await store.close();
});

test('npy pairs with int64, uint32 and int32 keys', async () => {
  const dim = 5;
  const store = LmdbStore.open(dir.path, 'npy');
  const vectors = randomVectors(1200, dim, 23);
  const vfile = join(dir.path, 'v.npy');
  writeNpy(vfile, '<f4', [1200, dim], vectors);
  const k64 = randomInt64Keys(1200, 24);
  writeNpy(join(dir.path, 'k64.npy'), '<i8', [1200], k64);
  await importTable(store, 'i64', await openNpyPair(join(dir.path, 'k64.npy'), vfile, dim), { keyType: 'int64', progress: false, memoryBudget: 0, runRows: 500 });
  checkTable(store, 'i64', k64, vectors, dim);
  const ku = randomUint32Keys(1200, 25);
  writeNpy(join(dir.path, 'ku.npy'), '<u4', [1200, 1], Uint32Array.from(ku, Number));
  await importTable(store, 'u32', await openNpyPair(join(dir.path, 'ku.npy'), vfile), { keyType: 'uint32', progress: false });
  checkTable(store, 'u32', ku, vectors, dim);
  const ki = Int32Array.from(randomUint32Keys(1200, 26), (k) => Number(BigInt.asIntN(32, k)));
  assert.ok(ki.some((k) => k < 0));
  writeNpy(join(dir.path, 'ki.npy'), '<i4', [1200], ki);
  await importTable(store, 'i32', await openNpyPair(join(dir.path, 'ki.npy'), vfile), { keyType: 'int64', progress: false, memoryBudget: 0, runRows: 400 });
  checkTable(store, 'i32', BigInt64Array.from(ki, BigInt), vectors, dim);
  await store.close();
});

test('JSONL, keys beyond 2^53 as strings', async () => {
  const dim = 3;
  const keys = randomInt64Keys(400, 27);
  const vectors = randomVectors(400, dim, 28);
  const file = join(dir.path, 't.jsonl');
  writeJsonl(file, keys, vectors, dim);
  const store = LmdbStore.open(dir.path, 'jsonl');
  const { report } = await importTable(store, 't', openJsonl(file), { keyType: 'int64', progress: false, runRows: 150 });
  assert.is(report.rows, 400);
  // JSON numbers are float64: compare with the float32 rounding of what was written
  checkTable(store, 't', keys, Float32Array.from(vectors), dim);
  await store.close();
});

test('export writes the HugeCTR format back: the same rows, in key order', async () => {
  const dim = 6;
  const keys = randomInt64Keys(3000, 29);
  const vectors = randomVectors(3000, dim, 30);
  const folder = join(dir.path, 'src');
  writeHugeCtr(folder, keys, vectors);
  const store = LmdbStore.open(dir.path, 'exp');
  await importTable(store, 't', openHugeCtrFolder(folder, dim), { keyType: 'int64', progress: false });
  const out = join(dir.path, 'exported');
  const report = await exportHugeCtrFolder(store, 't', out);
  assert.is(report.rows, 3000);
  const ek = new BigInt64Array(readBytes(join(out, 'key')));
  const ev = new Float32Array(readBytes(join(out, 'emb_vector')));
  const order = Array.from(keys.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : 1));
  assert.equal(Array.from(ek), order.map((i) => keys[i]));
  for (let j = 0; j < order.length; j++) assert.equal(row(ev, j, dim), row(vectors, order[j], dim));
  assert.equal(readdirSync(out).sort(), ['emb_vector', 'key']);
  await store.close();
});

test.run();
