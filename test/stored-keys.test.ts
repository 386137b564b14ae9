// ParameterServer.storedKeys and tableInfo: the key scan `hps stats` draws from, read from the store the
// server already has open, checked against the imported keys sorted independently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { HpsError, ParameterServer } from '../engine/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

const dir = tempDir('stored-keys');
test.after(() => dir.remove());

const dim = 3;
const keys = randomInt64Keys(5000, 901);
const sorted = Array.from(keys).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
writeHugeCtr(join(dir.path, 'src'), keys, randomVectors(5000, dim, 902));

async function open(): Promise<ParameterServer> {
  return ParameterServer.open({
    supportlonglong: true,
    models: [{ model: 'm', sparse_files: [], embedding_table_names: ['t', 'empty'], embedding_vecsize_per_table: [dim, 2] }],
    persistent_db: { type: 'lmdb', path: join(dir.path, 'store') },
  }, { log: () => {} });
}

test.before(async () => {
  const ps = await open();
  await ps.importTable('m', 't', { format: 'hugectr', folder: join(dir.path, 'src') });
  await ps.close();
});

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return e instanceof HpsError ? e.code : `not an HpsError: ${String(e)}`; }
  return undefined;
}

test('storedKeys returns the first keys in ascending order, up to the limit', async () => {
  const ps = await open();
  try {
    assert.equal(Array.from(ps.storedKeys('m', 't', 1 << 20)), sorted);
    assert.equal(Array.from(ps.storedKeys('m', 0, 1234)), sorted.slice(0, 1234));
    assert.is(ps.storedKeys('m', 't', 0).length, 0);
    assert.is(ps.storedKeys('m', 'empty', 10).length, 0);
    // a scan sees a write that resolved before it
    await ps.update('m', 't', new BigInt64Array([sorted[0] - 1n]), new Float32Array(dim).fill(0.25));
    assert.is(ps.storedKeys('m', 't', 1)[0], sorted[0] - 1n);
  } finally {
    await ps.close();
  }
});

test('storedKeys and tableInfo check their arguments', async () => {
  const ps = await open();
  try {
    assert.is(code(() => ps.storedKeys('m', 'nope', 1)), 'UNKNOWN_TABLE');
    assert.is(code(() => ps.storedKeys('x', 't', 1)), 'UNKNOWN_MODEL');
    assert.is(code(() => ps.storedKeys('m', 't', -1)), 'BAD_ARGUMENT');
    assert.is(code(() => ps.storedKeys('m', 't', 1.5)), 'BAD_ARGUMENT');
    assert.is(code(() => ps.tableInfo('m', 2)), 'UNKNOWN_TABLE');
    const info = ps.tableInfo('m', 't');
    assert.equal(info, ps.info().models[0].tables[0]);
    assert.is(info.rows, 5001); // the imported rows and the one the first test wrote
  } finally {
    await ps.close();
  }
});

test.run();
