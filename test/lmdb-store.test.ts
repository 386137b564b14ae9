import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { HpsError } from '../engine/errors.js';
import { randomInt64Keys, randomUint32Keys, randomVectors, row, tempDir } from './helpers/lmdb-random.js';

const dir = tempDir('lmdb-store');
test.after(() => dir.remove());

function modelMap(keys: BigInt64Array, vectors: Float32Array, dim: number, into = new Map<bigint, number[]>()): Map<bigint, number[]> {
  for (let i = 0; i < keys.length; i++) into.set(keys[i], row(vectors, i, dim));
  return into;
}

function checkAgainst(store: LmdbStore, table: string, dim: number, probe: BigInt64Array, reference: Map<bigint, number[]>): void {
  const out = new Float32Array(probe.length * dim).fill(12345);
  const missing = store.get(table, probe, out);
  const expectedMissing: number[] = [];
  for (let i = 0; i < probe.length; i++) {
    const want = reference.get(probe[i]);
    if (want) assert.equal(row(out, i, dim), want, `row ${i}`);
    else {
      expectedMissing.push(i);
      assert.equal(row(out, i, dim), new Array(dim).fill(12345), `missing row ${i} untouched`);
    }
  }
  assert.equal(Array.from(missing), expectedMissing);
}

test('int64 round trip (negative keys included) against a Map, with puts, overwrites and erases', async () => {
  const dim = 7;
  const store = LmdbStore.open(dir.path, 'm64');
  store.ensureTable('t', dim, 'int64');
  const keys = randomInt64Keys(3000, 1);
  assert.ok(keys.some((k) => k < 0n) && keys.some((k) => k > 0n));
  const vectors = randomVectors(3000, dim, 2);
  store.put('t', keys.subarray(0, 2000), vectors.subarray(0, 2000 * dim));
  const reference = modelMap(keys.subarray(0, 2000), vectors.subarray(0, 2000 * dim), dim);
  // overwrite half of them with new rows
  const newer = randomVectors(1000, dim, 3);
  store.put('t', keys.subarray(1000, 2000), newer);
  modelMap(keys.subarray(1000, 2000), newer, dim, reference);
  const erased = store.erase('t', keys.subarray(0, 500));
  assert.is(erased, 500);
  for (const k of keys.subarray(0, 500)) reference.delete(k);
  assert.is(store.erase('t', keys.subarray(2500, 2600)), 0, 'erasing absent keys removes nothing');
  assert.is(store.table('t')!.count, reference.size);
  checkAgainst(store, 't', dim, keys, reference);
  await store.close();
  // reopened read-only: same data
  const ro = LmdbStore.open(dir.path, 'm64', { readOnly: true });
  checkAgainst(ro, 't', dim, keys, reference);
  await ro.close();
});

test('uint32 round trip (keys >= 2^31 included) and positions-restricted reads', async () => {
  const dim = 16;
  const store = LmdbStore.open(dir.path, 'm32');
  store.ensureTable('u', dim, 'uint32');
  const keys = randomUint32Keys(2000, 4);
  assert.ok(keys.some((k) => k >= 2n ** 31n));
  const vectors = randomVectors(2000, dim, 5);
  store.put('u', keys.subarray(0, 1500), vectors.subarray(0, 1500 * dim));
  const reference = modelMap(keys.subarray(0, 1500), vectors.subarray(0, 1500 * dim), dim);
  checkAgainst(store, 'u', dim, keys, reference);
  // only the odd positions are asked for
  const positions = new Uint32Array(1000).map((_, j) => 2 * j + 1);
  const out = new Float32Array(keys.length * dim);
  const missing = store.get('u', keys, out, positions);
  assert.equal(Array.from(missing), Array.from(positions).filter((p) => p >= 1500));
  for (const p of positions) if (p < 1500) assert.equal(row(out, p, dim), reference.get(keys[p]));
  assert.equal(row(out, 0, dim), new Array(dim).fill(0), 'positions not asked for are not written');
  // scan returns everything in ascending key order
  const scanned: bigint[] = [];
  for (const chunk of store.scan('u', 256)) {
    for (let i = 0; i < chunk.keys.length; i++) {
      assert.equal(row(chunk.vectors, i, dim), reference.get(chunk.keys[i]));
      scanned.push(chunk.keys[i]);
    }
  }
  assert.equal(scanned, [...reference.keys()].sort((a, b) => (a < b ? -1 : 1)));
  await store.close();
});

test('an int64 scan returns negative keys first (numeric order)', async () => {
  const store = LmdbStore.open(dir.path, 'order');
  store.ensureTable('t', 2, 'int64');
  const keys = BigInt64Array.from([5n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 0n, -7n]);
  store.put('t', keys, randomVectors(keys.length, 2, 9));
  const scanned = [...store.scan('t')].flatMap((c) => Array.from(c.keys));
  assert.equal(scanned, [-(2n ** 63n), -7n, -1n, 0n, 5n, 2n ** 63n - 1n]);
  await store.close();
});

test('rows larger than a page (dim 3000) round trip', async () => {
  const dim = 3000;
  const store = LmdbStore.open(dir.path, 'wide');
  store.ensureTable('w', dim, 'int64');
  const keys = randomInt64Keys(40, 17);
  const vectors = randomVectors(40, dim, 18);
  store.put('w', keys, vectors);
  const out = new Float32Array(40 * dim);
  assert.is(store.get('w', keys, out).length, 0);
  assert.equal(Array.from(out), Array.from(vectors));
  await store.close();
});

test('wrong vector length and wrong output size are errors that change nothing', async () => {
  const store = LmdbStore.open(dir.path, 'bad');
  store.ensureTable('t', 4, 'int64');
  const keys = randomInt64Keys(10, 6);
  store.put('t', keys, randomVectors(10, 4, 7));
  const before = new Float32Array(40);
  store.get('t', keys, before);
  const err = catchError(() => store.put('t', keys, randomVectors(10, 4, 8).subarray(0, 39)));
  assert.is(err.code, 'BAD_VECTOR');
  assert.match(err.message, /39 floats, expected 10 keys x dim 4 = 40/);
  const after = new Float32Array(40);
  store.get('t', keys, after);
  assert.equal(Array.from(after), Array.from(before));
  assert.is(catchError(() => store.get('t', keys, new Float32Array(39))).code, 'BAD_OUTPUT');
  const unknown = catchError(() => store.get('nope', keys, after));
  assert.is(unknown.code, 'UNKNOWN_TABLE');
  assert.match(unknown.message, /known tables: t/);
  assert.is(catchError(() => store.ensureTable('t', 5, 'int64')).code, 'BAD_CONFIG');
  store.ensureTable('u', 4, 'uint32');
  const wide = BigInt64Array.of(5n, 2n ** 32n + 5n);
  const tooWide = catchError(() => store.put('u', wide, randomVectors(2, 4, 19)));
  assert.is(tooWide.code, 'BAD_KEY');
  assert.match(tooWide.message, /model bad table u: keys\[1\]: key 4294967301 .*\[0, 4294967295\]/);
  assert.is(store.table('u')!.count, 0);
  assert.is(catchError(() => store.get('u', wide, new Float32Array(8))).code, 'BAD_KEY');
  await store.close();
});

test('a read-only store refuses every write, naming the model and table', async () => {
  const w = LmdbStore.open(dir.path, 'ro');
  w.ensureTable('t', 3, 'int64');
  const keys = randomInt64Keys(5, 10);
  const vectors = randomVectors(5, 3, 11);
  w.put('t', keys, vectors);
  await w.close();
  const ro = LmdbStore.open(dir.path, 'ro', { readOnly: true });
  for (const write of [() => ro.put('t', keys, vectors), () => ro.erase('t', keys), () => ro.beginImport('t', { dim: 3, keyType: 'int64', fingerprint: null, source: null })]) {
    const err = catchError(write);
    assert.is(err.code, 'READ_ONLY');
    assert.match(err.message, /model ro table t/);
  }
  const out = new Float32Array(15);
  assert.is(ro.get('t', keys, out).length, 0);
  assert.equal(Array.from(out), Array.from(vectors));
  await ro.close();
  assert.is(catchError(() => LmdbStore.open(dir.path, 'absent', { readOnly: true })).code, 'IO');
});

test('a staged import is invisible until commit and abort leaves the table as it was', async () => {
  const store = LmdbStore.open(dir.path, 'stage');
  store.ensureTable('t', 2, 'int64');
  const oldKeys = randomInt64Keys(100, 12);
  const oldVectors = randomVectors(100, 2, 13);
  store.put('t', oldKeys, oldVectors);
  const staged = store.beginImport('t', { dim: 2, keyType: 'int64', fingerprint: 'f', source: 's' });
  const newKeys = randomInt64Keys(50, 14);
  staged.write(newKeys, randomVectors(50, 2, 15));
  const out = new Float32Array(200);
  assert.is(store.get('t', oldKeys, out).length, 0, 'old rows still served during the import');
  staged.abort();
  assert.is(store.table('t')!.count, 100);
  const again = store.beginImport('t', { dim: 2, keyType: 'int64', fingerprint: 'f', source: 's' });
  const newVectors = randomVectors(50, 2, 16);
  again.write(newKeys, newVectors);
  const meta = again.commit();
  assert.is(meta.count, 50);
  assert.is(meta.fingerprint, 'f');
  assert.is(store.get('t', oldKeys, out).length, 100, 'old rows replaced');
  const got = new Float32Array(100);
  assert.is(store.get('t', newKeys, got).length, 0);
  assert.equal(Array.from(got), Array.from(newVectors));
  await store.close();
});

function catchError(fn: () => unknown): HpsError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, HpsError);
    return e as HpsError;
  }
  throw new Error('expected an HpsError');
}

test.run();
