import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { randomInt64Keys, randomUint32Keys, randomVectors, row, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';
import { loadNative } from '../engine/native.js';

const dir = tempDir('server-api');
test.after(() => dir.remove());

const dim = 8;
const keys = randomInt64Keys(3000, 71);
const vectors = randomVectors(3000, dim, 72);
const absent = randomInt64Keys(3100, 71).subarray(3000); // same generator: distinct from `keys`
writeHugeCtr(join(dir.path, 'model', 't0'), keys, vectors);

function options(extra: Partial<HpsOptions> = {}): HpsOptions {
  return {
    baseDir: dir.path,
    models: [{ name: 'm', tables: [{ name: 't0', dim, defaultValue: 0.25, sparseFile: 'model/t0' }, { name: 'empty', dim: 3, defaultValue: -1 }] }],
    persistentDb: { path: 'store' },
    workerThreads: 0,
    ...extra,
  };
}

test('open imports the sparse file once; lookups match the files; absent keys get the default vector', async () => {
  const ps = await ParameterServer.open(options(), { progress: false });
  assert.is(ps.info().importsAtOpen.length, 1);
  const probe = new BigInt64Array(200);
  for (let i = 0; i < 200; i++) probe[i] = i % 4 === 3 ? absent[i % 100] : keys[(i * 7919) % 3000];
  const out = await ps.lookup('m', 't0', probe);
  assert.is(out.length, 200 * dim);
  for (let i = 0; i < 200; i++) {
    const want = i % 4 === 3 ? new Array(dim).fill(0.25) : row(vectors, (i * 7919) % 3000, dim);
    assert.equal(row(out, i, dim), want, `row ${i}`);
  }
  // table by index, a caller's SharedArrayBuffer-backed output, keys as an array of safe integers
  const shared = new Float32Array(new SharedArrayBuffer(200 * dim * 4));
  assert.is(await ps.lookup('m', 0, probe, shared), shared);
  assert.equal(Array.from(shared), Array.from(out));
  const small = keys.subarray(0, 10).filter((k) => k >= -(2n ** 53n) && k <= 2n ** 53n);
  const viaNumbers = await ps.lookup('m', 't0', Array.from(small, Number));
  assert.equal(Array.from(viaNumbers), Array.from(await ps.lookup('m', 't0', small)));
  const empty = await ps.lookup('m', 'empty', [1, 2]);
  assert.equal(Array.from(empty), new Array(6).fill(-1));
  const info = ps.info();
  assert.equal(info.models[0].tables.map((t) => [t.name, t.index, t.rows, t.tiers]), [['t0', 0, 3000, [loadNative().ok ? 'l1:cuda' : 'l1:wasm', 'l2:host-arena', 'l3:lmdb']], ['empty', 1, 0, ['l2:host-arena', 'l3:lmdb']]]);
  await ps.close();
  await expectError(() => ps.lookup('m', 't0', [1]), 'CLOSED', /closed/);
});

test('a later open reuses the store; changed files are imported again', async () => {
  let ps = await ParameterServer.open(options(), { progress: false });
  assert.is(ps.info().importsAtOpen.length, 0);
  await ps.close();
  const newer = randomVectors(3000, dim, 73);
  writeHugeCtr(join(dir.path, 'model', 't0'), keys, newer);
  utimesSync(join(dir.path, 'model', 't0', 'emb_vector'), new Date(), new Date(Date.now() + 5000));
  ps = await ParameterServer.open(options(), { progress: false });
  assert.is(ps.info().importsAtOpen.length, 1);
  const out = await ps.lookup('m', 't0', keys.subarray(0, 50));
  assert.equal(Array.from(out), Array.from(newer.subarray(0, 50 * dim)));
  await ps.close();
});

test('bad keys, a wrong output buffer, unknown model and table: clear errors', async () => {
  const ps = await ParameterServer.open(options(), { progress: false });
  await expectError(() => ps.lookup('m', 't0', [1, 2, 1.5]), 'BAD_KEY', /keys\[2\]: key 1\.5 is not valid: expected a safe integer/);
  await expectError(() => ps.lookup('m', 't0', [1, NaN]), 'BAD_KEY', /keys\[1\]: key NaN/);
  await expectError(() => ps.lookup('m', 't0', [2 ** 60]), 'BAD_KEY', /keys\[0\]/);
  await expectError(() => ps.lookup('m', 't0', BigUint64Array.of(1n, 2n ** 63n)), 'BAD_KEY', /keys\[1\]: key 9223372036854775808 .*below 2\^63/);
  await expectError(() => ps.lookup('m', 't0', [1, 2], new Float32Array(2 * dim - 1)), 'BAD_OUTPUT', /out: holds 15 floats, expected 2 keys x dim 8 = 16/);
  await expectError(() => ps.lookup('m', 't0', [1, 2], new Float64Array(16) as unknown as Float32Array), 'BAD_OUTPUT', /got a Float64Array of 16/);
  await expectError(() => ps.lookup('nope', 't0', [1]), 'UNKNOWN_MODEL', /known models: m/);
  await expectError(() => ps.lookup('m', 'nope', [1]), 'UNKNOWN_TABLE', /known tables \(index: name\): 0: t0, 1: empty/);
  await expectError(() => ps.lookup('m', 2, [1]), 'UNKNOWN_TABLE', /no table 2/);
  await ps.close();
});

test('uint32 tables: negative and too-large keys are errors; keys >= 2^31 work', async () => {
  const ukeys = randomUint32Keys(500, 74);
  const uvecs = randomVectors(500, 4, 75);
  writeHugeCtr(join(dir.path, 'u', 't'), ukeys, uvecs);
  const ps = await ParameterServer.open({ baseDir: dir.path, keyType: 'uint32', models: [{ name: 'u', tables: [{ name: 't', dim: 4, sparseFile: 'u/t' }] }], persistentDb: { path: 'store' } }, { progress: false });
  const out = await ps.lookup('u', 't', Uint32Array.from(ukeys, Number));
  assert.equal(Array.from(out), Array.from(uvecs));
  await expectError(() => ps.lookup('u', 't', [5, -1]), 'BAD_KEY', /keys\[1\]: key -1 .*uint32/);
  await expectError(() => ps.lookup('u', 't', Int32Array.of(-3)), 'BAD_KEY', /keys\[0\]: key -3/);
  await expectError(() => ps.lookup('u', 't', [2 ** 32]), 'BAD_KEY', /keys\[0\]: key 4294967296 .*\[0, 4294967295\]/);
  await ps.close();
});

test('a ps.json path: relative sparse_files, read-only serving, one not-yet-supported line', async () => {
  const psJson = {
    supportlonglong: true,
    models: [{ model: 'm', sparse_files: ['model/t0'], embedding_table_names: ['t0'], embedding_vecsize_per_table: [dim], default_value_for_each_table: [0.5], deployed_device_list: [0], max_batch_size: 64 }],
    persistent_db: { type: 'rocks_db', path: 'store', read_only: true, num_threads: 4 },
  };
  const file = join(dir.path, 'ps.json');
  writeFileSync(file, JSON.stringify(psJson));
  const warnings: string[] = [];
  const ps = await ParameterServer.open(file, { progress: false, warn: (l) => warnings.push(l) });
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /persistent_db\.num_threads/);
  const out = await ps.lookup('m', 't0', keys.subarray(100, 110));
  assert.is(out.length, 10 * dim);
  await expectError(() => ps.importTable('m', 't0', { format: 'hugectr', folder: join(dir.path, 'model', 't0') }), 'READ_ONLY', /model m table t0/);
  await ps.close();
  // a read-only open cannot import files that changed
  writeHugeCtr(join(dir.path, 'model', 't0'), keys, randomVectors(3000, dim, 76));
  utimesSync(join(dir.path, 'model', 't0', 'emb_vector'), new Date(), new Date(Date.now() + 10000));
  await expectError(() => ParameterServer.open(file, { progress: false, warn: () => {} }), 'READ_ONLY', /sparse files changed/);
});

test('importTable and exportTable round trip through the API', async () => {
  const ps = await ParameterServer.open(options(), { progress: false });
  const report = await ps.importTable('m', 'empty', { format: 'jsonl', file: writeSmallJsonl() });
  assert.is(report.count, 2);
  assert.equal(Array.from(await ps.lookup('m', 'empty', [7, 8, 9])), [1, 2, 3, 4, 5, 6, -1, -1, -1]);
  const exported = await ps.exportTable('m', 'empty', join(dir.path, 'exported'));
  assert.is(exported.rows, 2);
  await ps.close();
});

function writeSmallJsonl(): string {
  const file = join(dir.path, 'small.jsonl');
  writeFileSync(file, '{"key": 7, "vector": [1, 2, 3]}\n{"key": 8, "vector": [4, 5, 6]}\n');
  return file;
}

test.run();
