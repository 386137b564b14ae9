import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr, writeNpy } from './helpers/import-files.js';
import { expectError, throwsHps } from './helpers/expect-error.js';

/*
 * Every argument of ParameterServer's public methods is checked at the call: null, undefined and wrong
 * types are HpsErrors naming the argument and what was expected (never a TypeError or ENOENT from deep
 * inside), and a rejected call changes nothing.
 */

const dir = tempDir('public-args');
test.after(() => dir.remove());

const dim = 6;
const keys = randomInt64Keys(800, 301);
const vectors = randomVectors(800, dim, 302);
writeHugeCtr(join(dir.path, 'sparse', 't'), keys, vectors);

const options: HpsOptions = {
  baseDir: dir.path,
  models: [{ name: 'm', tables: [{ name: 't', dim, sparseFile: 'sparse/t' }] }],
  persistentDb: { path: 'store' },
  workerThreads: 0,
};

let ps: ParameterServer;
test.before(async () => {
  ps = await ParameterServer.open(options, { progress: false, warn: () => {} });
});
test.after(async () => {
  await ps.close();
});

const KEYS_EXPECTED = /keys: expected a BigInt64Array, BigUint64Array, Int32Array, Uint32Array or an array of safe integers, got (null|undefined)/;

test('null and undefined keys: BAD_KEY naming the argument, from every lookup and write', async () => {
  for (const bad of [null, undefined, 'abc', 42, {}]) {
    const k = bad as never;
    await expectError(() => ps.lookup('m', 't', k), 'BAD_KEY', /^keys: expected a BigInt64Array/);
    throwsHps(() => ps.lookupSync('m', 't', k), 'BAD_KEY', /^keys: expected/);
    await expectError(() => ps.lookupPooled('m', 't', k, [0]), 'BAD_KEY', /^keys: expected/);
    throwsHps(() => ps.lookupPooledSync('m', 't', k, [0]), 'BAD_KEY', /^keys: expected/);
    await expectError(() => ps.lookupMany('m', [{ table: 't', keys: k }]), 'BAD_KEY', /^specs\[0\]\.keys: expected/);
    await expectError(() => ps.prefetch('m', 't', k), 'BAD_KEY', /^keys: expected/);
    await expectError(() => ps.update('m', 't', k, new Float32Array(dim)), 'BAD_KEY', /^keys: expected/);
    await expectError(() => ps.erase('m', 't', k), 'BAD_KEY', /^keys: expected/);
  }
  await expectError(() => ps.lookup('m', 't', null as never), 'BAD_KEY', KEYS_EXPECTED);
});

test('other null arguments: specs, options, offsets, vectors, weights', async () => {
  await expectError(() => ps.lookupMany('m', null as never), 'BAD_ARGUMENT', /lookupMany: specs: expected an array of \{ table, keys, out\? \}, got null/);
  await expectError(() => ps.lookupMany('m', [null as never]), 'BAD_ARGUMENT', /lookupMany: specs\[0\]: expected \{ table, keys, out\? \}, got null/);
  await expectError(() => ps.lookupPooled('m', 't', [1], null as never), 'BAD_OFFSETS', /offsets: expected .* got null/);
  await expectError(() => ps.lookupPooled('m', 't', [1], [0, 1], null as never), 'BAD_ARGUMENT', /^options: expected an object \{ combiner\?, weights\?, out\? \} or undefined, got null/);
  throwsHps(() => ps.lookupPooledSync('m', 't', [1], [0, 1], null as never), 'BAD_ARGUMENT', /^options: expected an object/);
  await expectError(() => ps.lookupPooled('m', 't', [1, 2], [0, 2], { weights: new Float32Array(3) }), 'BAD_VECTOR', /options\.weights: expected a Float32Array of one weight per key \(2\), got a Float32Array of 3/);
  await expectError(() => ps.lookupPooled('m', 't', [1, 2], [0, 2], { weights: [1, 1] as never }), 'BAD_VECTOR', /options\.weights: .* got an array of 2/);
  await expectError(() => ps.lookupPooled('m', 't', [1, 2], [0, 2], { out: new Float32Array(dim + 1) }), 'BAD_OUTPUT', /options\.out: expected a Float32Array of 1 rows x dim 6 = 6 floats, got a Float32Array of 7/);
  throwsHps(() => ps.lookupPooledSync('m', 't', [1, 2], [0, 2], { weights: new Float32Array(1) }), 'BAD_VECTOR', /options\.weights/);
  await expectError(() => ps.update('m', 't', [1], null as never), 'BAD_VECTOR', /vectors must be a Float32Array/);
  await expectError(() => ps.lookup('m', 't', [1], null as never), 'BAD_OUTPUT', /out: expected a Float32Array .* got null/);
});

test('model and table arguments of the wrong type: UNKNOWN_MODEL / UNKNOWN_TABLE printing what was given', async () => {
  await expectError(() => ps.lookup('m', NaN, [1]), 'UNKNOWN_TABLE', /^model m has no table NaN; known tables \(index: name\): 0: t$/);
  await expectError(() => ps.lookup('m', 0.5, [1]), 'UNKNOWN_TABLE', /no table 0\.5;/);
  await expectError(() => ps.lookup('m', null as never, [1]), 'UNKNOWN_TABLE', /no table null;/);
  await expectError(() => ps.lookup('m', {} as never, [1]), 'UNKNOWN_TABLE', /no table an object;/);
  await expectError(() => ps.lookup(null as never, 't', [1]), 'UNKNOWN_MODEL', /^model null is not loaded; known models: m$/);
  await expectError(() => ps.lookup(undefined as never, 't', [1]), 'UNKNOWN_MODEL', /^model undefined is not loaded/);
});

test('importTable: a null spec, an unknown format, a missing path field, missing files: HpsErrors', async () => {
  await expectError(() => ps.importTable('m', 't', null as never), 'BAD_ARGUMENT', /^import spec: expected \{ format: 'hugectr', folder \}, \{ format: 'npy', keys, vectors \} or \{ format: 'jsonl', file \}, got null$/);
  await expectError(() => ps.importTable('m', 't', { format: 'csv', file: 'x.csv' } as never), 'BAD_ARGUMENT', /^import spec\.format: expected 'hugectr', 'npy' or 'jsonl', got string "csv"$/);
  await expectError(() => ps.importTable('m', 't', { format: 'npy', keys: 'k.npy' } as never), 'BAD_ARGUMENT', /^import spec\.vectors \(format 'npy'\): expected a file or folder path, got undefined$/);
  await expectError(() => ps.importTable('m', 't', { format: '__proto__', file: 'x' } as never), 'BAD_ARGUMENT', /spec\.format/);
  const missing = join(dir.path, 'nowhere');
  await expectError(() => ps.importTable('m', 't', { format: 'npy', keys: join(missing, 'k.npy'), vectors: join(missing, 'v.npy') }), 'BAD_FILE', /nowhere\/k\.npy: cannot read: ENOENT/);
  // the key file exists, the vector file does not
  const keyFile = join(dir.path, 'k.npy');
  writeNpy(keyFile, '<i8', [2], BigInt64Array.of(1n, 2n));
  await expectError(() => ps.importTable('m', 't', { format: 'npy', keys: keyFile, vectors: join(missing, 'v.npy') }), 'BAD_FILE', /nowhere\/v\.npy: cannot read: ENOENT/);
  await expectError(() => ps.importTable('m', 't', { format: 'jsonl', file: join(missing, 'rows.jsonl') }), 'BAD_FILE', /nowhere\/rows\.jsonl: cannot read/);
  await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder: missing }), 'BAD_FILE', /nowhere\/key: cannot read/);
});

test('exportTable: a null or empty folder is BAD_ARGUMENT', async () => {
  await expectError(() => ps.exportTable('m', 't', null as never), 'BAD_ARGUMENT', /^export of model m table t: folder: expected a folder path, got null$/);
  await expectError(() => ps.exportTable('m', 't', '' as never), 'BAD_ARGUMENT', /folder: expected a folder path, got string ""/);
});

test('after all the rejected calls, the table holds exactly its imported rows', async () => {
  const out = await ps.lookup('m', 't', keys);
  assert.equal(Array.from(out), Array.from(vectors));
  assert.is(ps.tableInfo('m', 't').rows, 800);
});

test.run();
