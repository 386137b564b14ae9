import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParameterServer } from '../engine/parameter-server.js';
import { randomInt64Keys, randomUint32Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { readBytes, writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';

// The width of a HugeCTR `key` file is what the import says (8 bytes, as HPS reads it, unless keyBytes 4
// is given), never guessed from file sizes: a half-size key file, or a dim half the real one, would
// otherwise fit 4-byte keys and replace an int64 table with garbage.

const hps = fileURLToPath(new URL('../bin/hps.js', import.meta.url));
const dir = tempDir('key-width');
test.after(() => dir.remove());
const dim = 8;
const keys = randomInt64Keys(2000, 11);
const vectors = randomVectors(keys.length, dim, 12);

function psJson(name: string, tableDim: number, supportlonglong: boolean, sparse: string[] = []): string {
  const file = join(dir.path, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    supportlonglong,
    models: [{ model: 'm', sparse_files: sparse, embedding_table_names: ['t'], embedding_vecsize_per_table: [tableDim], default_value_for_each_table: [0] }],
    persistent_db: { type: 'lmdb', path: join(dir.path, `${name}-store`) },
    volatile_db: { type: 'disabled' },
  }));
  return file;
}

/** Every key of the first import is served with its vector, and the table holds exactly those rows. */
async function servesWhole(ps: ParameterServer, k: BigInt64Array, v: Float32Array, d: number): Promise<void> {
  const out = await ps.lookup('m', 't', k);
  assert.equal(Array.from(out), Array.from(v), 'every row as imported');
  assert.is(ps.info().models[0].tables[0].rows, k.length);
  assert.is(ps.tableInfo('m', 't').dim, d);
}

test('a key file of half its size is BAD_FILE naming the sizes for int64 keys; the int64 table stays whole', async () => {
  const config = psJson('half-key', dim, true);
  writeHugeCtr(join(dir.path, 'good'), keys, vectors);
  const half = join(dir.path, 'half-key');
  writeHugeCtr(half, keys, vectors);
  truncateSync(join(half, 'key'), keys.length * 4);
  const ps = await ParameterServer.open(config, { progress: false, log: () => {} });
  try {
    await ps.importTable('m', 't', { format: 'hugectr', folder: join(dir.path, 'good') });
    await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder: half }), 'BAD_FILE',
      new RegExp(`half-key/key: ${keys.length * 4} bytes is ${keys.length / 2} int64 keys \\(8 bytes each, as HPS reads them\\), so .*emb_vector should be ${keys.length / 2} x dim ${dim} x 4 = ${keys.length * dim * 2} bytes, found ${keys.length * dim * 4} bytes; .*holds ${keys.length} rows of dim ${dim}, which needs .*key of ${keys.length * 8} bytes; the sizes would fit 4-byte keys: if the files hold them, import with keyBytes 4`));
    await servesWhole(ps, keys, vectors, dim);
  } finally {
    await ps.close();
  }
});

test('a dim set to half the real one is BAD_FILE; the table of that dim stays whole', async () => {
  const config = psJson('half-dim', dim / 2, true);
  const small = randomVectors(keys.length, dim / 2, 13);
  writeHugeCtr(join(dir.path, 'small'), keys, small);
  const wide = join(dir.path, 'wide');
  writeHugeCtr(wide, keys, vectors); // dim 8 rows, configured as dim 4
  const ps = await ParameterServer.open(config, { progress: false, log: () => {} });
  try {
    await ps.importTable('m', 't', { format: 'hugectr', folder: join(dir.path, 'small') });
    await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder: wide }), 'BAD_FILE',
      new RegExp(`wide/key: ${keys.length * 8} bytes is ${keys.length} int64 keys .*should be ${keys.length} x dim ${dim / 2} x 4 = ${keys.length * dim * 2} bytes, found ${keys.length * dim * 4} bytes`));
    await servesWhole(ps, keys, small, dim / 2);
  } finally {
    await ps.close();
  }
  // The same at open: the ps.json names the wide files as the table's sparse file.
  const reopen = psJson('half-dim', dim / 2, true, [wide]);
  await expectError(() => ParameterServer.open(reopen, { progress: false, log: () => {} }), 'BAD_FILE', /wide\/key: .* int64 keys/);
  const ps2 = await ParameterServer.open(psJson('half-dim', dim / 2, true), { progress: false, log: () => {} });
  try {
    await servesWhole(ps2, keys, small, dim / 2);
  } finally {
    await ps2.close();
  }
});

test('supportlonglong false: 8-byte key files (as HPS reads them) import into the uint32 table; exported back as 8-byte keys', async () => {
  const k32 = randomUint32Keys(1500, 21);
  const v32 = randomVectors(k32.length, dim, 22);
  const folder = join(dir.path, 'u32-wide');
  writeHugeCtr(folder, k32, v32);
  const ps = await ParameterServer.open(psJson('u32', dim, false, [folder]), { progress: false, log: () => {} });
  try {
    assert.is(ps.tableInfo('m', 't').keyType, 'uint32');
    await servesWhole(ps, k32, v32, dim);
    const out = join(dir.path, 'u32-out');
    await ps.exportTable('m', 't', out);
    const exported = new BigInt64Array(readBytes(join(out, 'key')));
    assert.equal(Array.from(exported), Array.from(k32).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  } finally {
    await ps.close();
  }
});

test('4-byte key files import with keyBytes 4 (API and --key-bytes 4), and without it are BAD_FILE with that hint', async () => {
  const k32 = randomUint32Keys(1200, 31);
  const v32 = randomVectors(k32.length, dim, 32);
  const folder = join(dir.path, 'u32-narrow');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'key'), Uint32Array.from(k32, Number));
  writeFileSync(join(folder, 'emb_vector'), v32);
  const config = psJson('u32-narrow', dim, false);
  const ps = await ParameterServer.open(config, { progress: false, log: () => {} });
  try {
    await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder }), 'BAD_FILE', /u32-narrow\/key: 4800 bytes is 600 int64 keys .*would fit 4-byte keys: if the files hold them, import with keyBytes 4 \(hps import --key-bytes 4\)/);
    await ps.importTable('m', 't', { format: 'hugectr', folder, keyBytes: 4 });
    await servesWhole(ps, k32, v32, dim);
    await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder, keyBytes: 2 as 4 }), 'BAD_ARGUMENT', /keyBytes 2: expected 8 .* or 4/);
  } finally {
    await ps.close();
  }
  const cli = (...args: string[]) => spawnSync(process.execPath, [hps, ...args], { encoding: 'utf8' });
  const refused = cli('import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', folder);
  assert.is(refused.status, 1);
  assert.match(refused.stderr, /--key-bytes 4/);
  const r = cli('import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', folder, '--key-bytes', '4');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /imported 1200 keys/);
  assert.match(cli('import', '-c', config, '-m', 'm', '-t', 't', '--hugectr', folder, '--key-bytes', '3').stderr, /expected 8 \(int64 keys\) or 4/);
});

test('a slot_id file that counts other keys than key is BAD_FILE', async () => {
  const folder = join(dir.path, 'slots');
  writeHugeCtr(folder, keys, vectors);
  writeFileSync(join(folder, 'slot_id'), new BigUint64Array(keys.length / 2));
  const ps = await ParameterServer.open(psJson('slots', dim, true), { progress: false, log: () => {} });
  try {
    await expectError(() => ps.importTable('m', 't', { format: 'hugectr', folder }), 'BAD_FILE', new RegExp(`slots/slot_id: ${keys.length * 4} bytes, expected ${keys.length} keys x 8 = ${keys.length * 8} bytes .*slot_id counts ${keys.length / 2}`));
    writeFileSync(join(folder, 'slot_id'), new BigUint64Array(keys.length));
    await ps.importTable('m', 't', { format: 'hugectr', folder });
    await servesWhole(ps, keys, vectors, dim);
  } finally {
    await ps.close();
  }
});

test.run();
