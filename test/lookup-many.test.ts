import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { randomInt64Keys, randomVectors, row, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';

const dir = tempDir('lookup-many');
test.after(() => dir.remove());

const dims = [8, 5];
const keys = [randomInt64Keys(2000, 81), randomInt64Keys(1500, 82)];
const vectors = [randomVectors(2000, dims[0], 83), randomVectors(1500, dims[1], 84)];
writeHugeCtr(join(dir.path, 'model', 'a'), keys[0], vectors[0]);
writeHugeCtr(join(dir.path, 'model', 'b'), keys[1], vectors[1]);

const options: HpsOptions = {
  baseDir: dir.path,
  models: [{ name: 'm', tables: [
    { name: 'a', dim: dims[0], defaultValue: 0.5, sparseFile: 'model/a' },
    { name: 'b', dim: dims[1], defaultValue: -2, sparseFile: 'model/b' },
  ] }],
  persistentDb: { path: 'store' },
  workerThreads: 0,
};

test('lookupMany equals one lookup per table, by name and by index, into given or new outputs', async () => {
  const ps = await ParameterServer.open(options, { progress: false });
  const picks = [Array.from({ length: 300 }, (_, i) => (i * 7919) % 2000), Array.from({ length: 120 }, (_, i) => (i * 104729) % 1500)];
  const probeA = BigInt64Array.from(picks[0], (p) => keys[0][p]);
  const probeB = BigInt64Array.from(picks[1], (p) => keys[1][p]);
  probeB[7] = 123456789123n; // absent: the default vector
  const outB = new Float32Array(new SharedArrayBuffer(120 * dims[1] * 4));
  const [a, b] = await ps.lookupMany('m', [{ table: 'a', keys: probeA }, { table: 1, keys: probeB, out: outB }]);
  assert.is(b, outB);
  picks[0].forEach((p, i) => assert.equal(row(a, i, dims[0]), row(vectors[0], p, dims[0]), `a row ${i}`));
  picks[1].forEach((p, i) => assert.equal(row(b, i, dims[1]), i === 7 ? new Array(dims[1]).fill(-2) : row(vectors[1], p, dims[1]), `b row ${i}`));
  assert.equal(await ps.lookupMany('m', []), []);
  await ps.close();
});

test('lookupMany checks every spec before looking anything up, naming the bad one', async () => {
  const ps = await ParameterServer.open(options, { progress: false });
  await expectError(() => ps.lookupMany('m', [{ table: 'a', keys: [1] }, { table: 'zz', keys: [2] }]), 'UNKNOWN_TABLE', /zz/);
  await expectError(() => ps.lookupMany('m', [{ table: 'a', keys: [1] }, { table: 'b', keys: [1.5] }]), 'BAD_KEY', /specs\[1\]\.keys/);
  await expectError(() => ps.lookupMany('m', [{ table: 'b', keys: [1], out: new Float32Array(4) }]), 'BAD_OUTPUT', /specs\[0\]\.out.*5/);
  await expectError(() => ps.lookupMany('m', [null as never]), 'BAD_ARGUMENT', /specs\[0\]/);
  await expectError(() => ps.lookupMany('nope', [{ table: 'a', keys: [1] }]), 'UNKNOWN_MODEL', /nope/);
  assert.is(ps.stats().reduce((n, t) => n + t.lookups, 0), 0, 'nothing was looked up');
  await ps.close();
});

test.run();
