import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { HpsError } from '../engine/errors.js';
import { importTable, openHugeCtrFolder, openJsonl, openNpyPair } from '../engine/import/index.js';
import type { ImportSource } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr, writeJsonl, writeNpy } from './helpers/import-files.js';

const dir = tempDir('import-bad');
const dim = 4;
const store = LmdbStore.open(dir.path, 'm');
const goodKeys = randomInt64Keys(500, 41);
const goodVectors = randomVectors(500, dim, 42);
test.after(async () => {
  await store.close();
  dir.remove();
});

test.before(async () => {
  const folder = join(dir.path, 'good');
  writeHugeCtr(folder, goodKeys, goodVectors);
  await importTable(store, 't', openHugeCtrFolder(folder, dim), { keyType: 'int64', progress: false });
});

/** The table still holds exactly the good rows. */
function assertUnchanged(): void {
  assert.is(store.table('t')!.count, 500);
  const out = new Float32Array(500 * dim);
  assert.is(store.get('t', goodKeys, out).length, 0);
  assert.equal(Array.from(out), Array.from(goodVectors));
  assert.equal(store.tables().map((t) => t.name), ['t']);
}

async function rejects(open: () => ImportSource | Promise<ImportSource>, code: string, pattern: RegExp, keyType: 'int64' | 'uint32' = 'int64'): Promise<void> {
  try {
    await importTable(store, 't', await open(), { keyType, progress: false, runRows: 100, chunkRows: 50 });
  } catch (e) {
    assert.instance(e, HpsError);
    assert.is((e as HpsError).code, code, (e as Error).message);
    assert.match((e as Error).message, pattern);
    assertUnchanged();
    return;
  }
  assert.unreachable('expected an HpsError');
}

test('HugeCTR key file whose length is not a multiple of 8', async () => {
  const folder = join(dir.path, 'odd-keys');
  writeHugeCtr(folder, randomInt64Keys(10, 43), randomVectors(10, dim, 44));
  truncateSync(join(folder, 'key'), 77);
  await rejects(() => openHugeCtrFolder(folder, dim), 'BAD_FILE', new RegExp(`odd-keys/key: 77 bytes is not a whole number of int64 keys \\(8 bytes each, as HPS reads them\\): expected 72 bytes, found 77 bytes`));
});

test('HugeCTR vector file that is not keys x dim x 4 bytes (truncated)', async () => {
  const folder = join(dir.path, 'short-vectors');
  writeHugeCtr(folder, randomInt64Keys(10, 45), randomVectors(10, dim, 46));
  truncateSync(join(folder, 'emb_vector'), 150);
  await rejects(() => openHugeCtrFolder(folder, dim), 'BAD_FILE', /short-vectors\/key: 80 bytes is 10 int64 keys .*, so .*short-vectors\/emb_vector should be 10 x dim 4 x 4 = 160 bytes, found 150 bytes; .* is not a whole number of rows of dim 4/);
  await rejects(() => openHugeCtrFolder(folder), 'BAD_FILE', /150 bytes is not 10 keys x dim x 4 bytes/);
});

test('a vector file truncated after the size check (while importing)', async () => {
  const folder = join(dir.path, 'shrinks');
  writeHugeCtr(folder, randomInt64Keys(300, 54), randomVectors(300, dim, 55));
  const source = openHugeCtrFolder(folder, dim);
  truncateSync(join(folder, 'emb_vector'), 1000);
  await rejects(() => source, 'BAD_FILE', /shrinks\/emb_vector: truncated while importing: ended at byte 1000, expected at least \d+ bytes/);
});

test('a vector file of another dim than the table', async () => {
  const folder = join(dir.path, 'dim8');
  writeHugeCtr(folder, randomInt64Keys(10, 47), randomVectors(10, 8, 48));
  await rejects(() => openHugeCtrFolder(folder), 'BAD_FILE', /dim 8, but table t of model m has dim 4/);
});

test('a key out of range for a uint32 table fails mid-import (after chunks were staged)', async () => {
  const folder = join(dir.path, 'big-key');
  const keys = BigInt64Array.from({ length: 300 }, (_, i) => BigInt(i));
  keys[250] = 2n ** 40n;
  writeHugeCtr(folder, keys, randomVectors(300, dim, 49));
  await rejects(() => openHugeCtrFolder(folder, dim), 'BAD_KEY', /big-key\/key: key 250 \(byte offset 2000\) is 1099511627776: expected an integer in \[0, 4294967295\]/, 'uint32');
});

test('npy: bad magic, truncated data, Fortran order, wrong dtype, count mismatch', async () => {
  const keys = randomInt64Keys(20, 50);
  const vectors = randomVectors(20, dim, 51);
  const kf = join(dir.path, 'k.npy');
  const vf = join(dir.path, 'v.npy');
  writeNpy(kf, '<i8', [20], keys);
  writeFileSync(vf, 'not a numpy file at all');
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /v\.npy: not a \.npy file/);
  writeNpy(vf, '<f4', [20, dim], vectors);
  truncateSync(vf, 128 + 20 * dim * 4 - 8);
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /v\.npy: data after the header \(byte 128\) for 20 x 4 float32: expected 320 bytes, found 312 bytes/);
  writeNpy(vf, '<f4', [20, dim], vectors, true);
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /Fortran order/);
  writeNpy(vf, '<f8', [20, 2], vectors);
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /dtype '<f8': expected '<f4'/);
  writeNpy(vf, '<f4', [19, dim], vectors.subarray(0, 19 * dim));
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /19 vectors for 20 keys/);
  writeNpy(kf, '<i2', [20], new Int16Array(20));
  await rejects(() => openNpyPair(kf, vf, dim), 'BAD_FILE', /key dtype '<i2'/);
});

test('JSONL errors name the line', async () => {
  const file = join(dir.path, 'bad.jsonl');
  const keys = randomInt64Keys(5, 52);
  const vectors = randomVectors(5, dim, 53);
  writeJsonl(file, keys, vectors, dim);
  const good = (await import('node:fs')).readFileSync(file, 'utf8').split('\n');
  const variants: [string, string, RegExp][] = [
    ['{"key": 1, "vector": [1, 2', 'BAD_FILE', /bad\.jsonl:3: not valid JSON/],
    ['{"key": 1.5, "vector": [1, 2, 3, 4]}', 'BAD_KEY', /bad\.jsonl:3: "key" 1\.5 is not valid/],
    ['{"key": "99999999999999999999", "vector": [1, 2, 3, 4]}', 'BAD_KEY', /bad\.jsonl:3: "key" 99999999999999999999 is out of range/],
    ['{"key": 3, "vector": [1, 2, 3]}', 'BAD_VECTOR', /bad\.jsonl:3: "vector" has 3 values, expected dim 4/],
    ['{"key": 3, "vector": [1, 2, "x", 4]}', 'BAD_VECTOR', /bad\.jsonl:3: "vector"\[2\] is "x"/],
    // beyond float32 (it would be stored as Infinity); the largest float32 itself is fine (next test)
    ['{"key": 3, "vector": [1, 1e39, 3, 4]}', 'BAD_VECTOR', /bad\.jsonl:3: "vector"\[1\] is 1e\+39, beyond the float32 range/],
    ['{"key": 3, "vector": [1, 2, -3.5e38, 4]}', 'BAD_VECTOR', /bad\.jsonl:3: "vector"\[2\] is -3\.5e\+38, beyond the float32 range/],
  ];
  for (const [line, code, pattern] of variants) {
    writeFileSync(file, [good[0], good[1], line, good[3]].join('\n'));
    await rejects(() => openJsonl(file, dim), code, pattern);
  }
});

test('JSONL: the float32 extremes import exactly', async () => {
  const file = join(dir.path, 'extremes.jsonl');
  const max = 3.4028234663852886e38;
  const tiny = 1.401298464324817e-45;
  writeFileSync(file, `{"key": 11, "vector": [${max}, ${-max}, ${tiny}, 0.1]}\n`);
  const other = LmdbStore.open(dir.path, 'extremes');
  await importTable(other, 'x', openJsonl(file, dim), { keyType: 'int64', progress: false });
  const out = new Float32Array(dim);
  assert.is(other.get('x', BigInt64Array.of(11n), out).length, 0);
  assert.equal(Array.from(out), [max, -max, tiny, Math.fround(0.1)]);
  await other.close();
});

test('JSONL: an empty file (or one of blank lines) is BAD_FILE and never replaces the table with 0 rows', async () => {
  const file = join(dir.path, 'empty.jsonl');
  for (const text of ['', '\n\n  \n']) {
    writeFileSync(file, text);
    await rejects(() => openJsonl(file, dim), 'BAD_FILE', /empty\.jsonl: no rows \(expected one \{"key": \.\.\., "vector": \[\.\.\.\]\} per line\)/);
    await rejects(() => openJsonl(file), 'BAD_FILE', /empty\.jsonl: no rows/);
  }
});

test('a missing source file', async () => {
  await rejects(() => openHugeCtrFolder(join(dir.path, 'nowhere'), dim), 'BAD_FILE', /nowhere\/key: cannot read/);
});

test.run();
