import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, openSync, closeSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

// Each damage kind of data.mdb, opened by a child process three ways (LmdbStore writable and read-only,
// ParameterServer from a ps.json): the child exits with HpsError CORRUPT naming the file and what is wrong,
// never by a signal (a truncated file used to end it by SIGBUS, damaged meta pages by SIGSEGV), and the file
// is left as it was (an empty one used to become a new, empty store).

const child = fileURLToPath(new URL('./helpers/damaged-store-child.js', import.meta.url));
const hps = fileURLToPath(new URL('../bin/hps.js', import.meta.url));
const dir = tempDir('damaged');
test.after(() => dir.remove());

const pristine = join(dir.path, 'pristine');
const tables = [
  { name: 't', dim: 8, keys: randomInt64Keys(20000, 71) },
  { name: 'u', dim: 4, keys: randomInt64Keys(3000, 72) },
].map((t, i) => ({ ...t, vectors: randomVectors(t.keys.length, t.dim, 80 + i) }));

test.before(async () => {
  const store = LmdbStore.open(pristine, 'm');
  for (const t of tables) {
    const folder = join(dir.path, `src-${t.name}`);
    writeHugeCtr(folder, t.keys, t.vectors);
    await importTable(store, t.name, openHugeCtrFolder(folder, t.dim), { keyType: 'int64', progress: false });
  }
  await store.close();
});

/** A copy of the pristine store, damaged by `damage(dataFile, pageSize)`; returns its root and a ps.json for it. */
function damaged(name: string, damage: (file: string, pageSize: number) => void): { root: string; config: string; file: string } {
  const root = join(dir.path, name);
  cpSync(pristine, root, { recursive: true });
  rmSync(join(root, 'm', 'lock.mdb'), { force: true });
  const file = join(root, 'm', 'data.mdb');
  damage(file, readFileSync(file).readUInt32LE(48));
  const config = join(dir.path, `${name}.json`);
  writeFileSync(config, JSON.stringify({
    supportlonglong: true,
    models: [{ model: 'm', sparse_files: [], embedding_table_names: tables.map((t) => t.name), embedding_vecsize_per_table: tables.map((t) => t.dim) }],
    persistent_db: { type: 'lmdb', path: root },
    volatile_db: { type: 'disabled' },
  }));
  return { root, config, file };
}

function overwrite(file: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

function run(script: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Every way of opening the damaged store refuses it with CORRUPT matching `what`; the file is unchanged. */
function refusedEverywhere(store: { root: string; config: string; file: string }, what: RegExp): void {
  const before = readFileSync(store.file);
  for (const args of [[child, 'lmdb', store.root, 'm'], [child, 'lmdb', store.root, 'm', 'ro'], [child, 'ps', store.config]]) {
    const r = run(args[0], ...args.slice(1));
    assert.is(r.signal, null, `${args.slice(1).join(' ')}: ended by ${r.signal}`);
    assert.is(r.status, 3, `${args.slice(1).join(' ')}: exit ${r.status}, stdout ${r.stdout}, stderr ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^HpsError CORRUPT: model m: ${store.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is damaged: `));
    assert.match(r.stderr, what);
  }
  assert.ok(readFileSync(store.file).equals(before), 'the damaged file is left as it was');
}

test('the undamaged store opens every way, and hps check says ok', () => {
  const store = damaged('undamaged', () => {});
  for (const args of [['lmdb', store.root, 'm'], ['lmdb', store.root, 'm', 'ro'], ['ps', store.config]]) {
    const r = run(child, ...args);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), 'read 23000 rows');
  }
  const check = run(hps, 'check', '-c', store.config);
  assert.is(check.status, 0, check.stderr + check.stdout);
  assert.match(check.stdout, /^m\/t: ok \(20000 rows, checksum [0-9a-f]{16}\)\nm\/u: ok \(3000 rows, checksum [0-9a-f]{16}\)\nok \(2 tables\)\n$/);
});

test('a truncated data.mdb (SIGBUS before) is CORRUPT naming the sizes', () => {
  const store = damaged('truncated', (file, page) => truncateSync(file, Math.floor(statSync(file).size / 2 / page) * page));
  refusedEverywhere(store, /it has \d+ bytes, but its newest meta page \(byte \d+, transaction \d+\) uses pages up to \d+ of \d+ bytes: expected at least \d+ bytes \(the file was truncated: (page \d+, (a child of page \d+|the main database root|the root of a database named on page \d+), is past the end|overflow pages)/);
  const check = run(hps, 'check', '-c', store.config);
  assert.is(check.status, 1);
  assert.match(check.stdout, /^m: CORRUPT: model m: .*data\.mdb is damaged: it has \d+ bytes/);
  assert.match(check.stdout, /1 problem in 0 tables\n$/);
});

test('a file shorter than its last page only by pages no tree refers to still opens (LMDB leaves pages freed by their own transaction unwritten)', () => {
  const store = damaged('free-tail', (file, page) => {
    const data = readFileSync(file);
    const newest = data.readBigUInt64LE(24 + 128) > data.readBigUInt64LE(page + 24 + 128) ? 0 : page;
    const last = data.readBigUInt64LE(newest + 24 + 120);
    truncateSync(file, Number(last + 1n) * page);
    const claimed = Buffer.alloc(8);
    claimed.writeBigUInt64LE(last + 3n);
    overwrite(file, newest + 24 + 120, claimed);
  });
  for (const args of [['lmdb', store.root, 'm', 'ro'], ['ps', store.config]]) {
    const r = run(child, ...args);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), 'read 23000 rows');
  }
});

test('garbage meta pages (SIGSEGV before) are CORRUPT', () => {
  const noise = new Uint8Array(2 * 4096);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  const store = damaged('garbage-meta', (file) => overwrite(file, 0, noise));
  refusedEverywhere(store, /meta page 0 (is not a meta page|has magic)/);
});

test('a meta page overwritten by a data page is CORRUPT, whichever of the two it is', () => {
  const dataPage = (file: string, page: number) => readFileSync(file).subarray(10 * page, 11 * page);
  refusedEverywhere(damaged('meta1-overwritten', (file, page) => overwrite(file, page, dataPage(file, page))), /meta page 1 \(byte \d+\) is not a meta page \(page flags 0x\d+, expected the meta flag 0x08\)/);
  refusedEverywhere(damaged('meta0-overwritten', (file, page) => overwrite(file, 0, dataPage(file, page))), /meta page 0 is not a meta page/);
});

test('a zeroed data.mdb (SIGSEGV before) is CORRUPT', () => {
  refusedEverywhere(damaged('zeroed', (file) => writeFileSync(file, new Uint8Array(statSync(file).size))), /meta page 0 is not a meta page \(page flags 0x0/);
});

test('an empty (0-byte) data.mdb is CORRUPT, never a new empty store', () => {
  const store = damaged('empty', (file) => writeFileSync(file, ''));
  refusedEverywhere(store, /it is empty \(0 bytes\), but an existing store file is never taken for a new store/);
  assert.is(statSync(store.file).size, 0);
});

test('table metadata naming a rows database that is gone, or counting other rows, is CORRUPT', async () => {
  const rowsDb = async (root: string, table: string) => {
    const s = LmdbStore.open(root, 'm', { readOnly: true });
    const db = s.table(table)!.db;
    await s.close();
    return db;
  };
  const dropped = damaged('rows-db-dropped', () => {});
  const name = await rowsDb(dropped.root, 'u');
  await withEnv(join(dropped.root, 'm'), (env) => env.openDB(name, { keyEncoding: 'binary', encoding: 'binary' }).dropSync());
  refusedEverywhere(dropped, new RegExp(`table u: its rows database ${name} is missing \\(hps:meta records 3000 rows for it\\)`));

  const short = damaged('rows-missing', () => {});
  const t = await rowsDb(short.root, 't');
  await withEnv(join(short.root, 'm'), (env) => {
    const db = env.openDB<Buffer, Buffer>(t, { keyEncoding: 'binary', encoding: 'binary' });
    for (const first of db.getKeys({ limit: 1 })) db.removeSync(first);
  });
  refusedEverywhere(short, new RegExp(`table t: hps:meta records 20000 rows, its rows database ${t} holds 19999`));
});

test('hps check finds a flipped byte in one vector, and says so of that table only', () => {
  const row = 1234;
  const target = tables[0];
  const bytes = Buffer.from(target.vectors.buffer, row * target.dim * 4, target.dim * 4);
  const store = damaged('flipped', (file) => {
    const data = readFileSync(file);
    const at = data.indexOf(bytes);
    assert.ok(at > 0 && data.indexOf(bytes, at + 1) === -1, 'the row is stored once');
    overwrite(file, at + 13, Uint8Array.of(data[at + 13] ^ 0x10));
  });
  const check = run(hps, 'check', '-c', store.config);
  assert.is(check.signal, null);
  assert.is(check.status, 1, check.stdout + check.stderr);
  assert.match(check.stdout, /^m\/t: MISMATCH: the rows' checksum is [0-9a-f]{16}, [0-9a-f]{16} was recorded at the last write/);
  assert.match(check.stdout, /\nm\/u: ok \(3000 rows, checksum [0-9a-f]{16}\)\n1 problem in 2 tables\n$/);
});

test('hps check: a table last written before checksums were kept is counted, not failed; -m picks a model', async () => {
  const store = damaged('no-checksum', () => {});
  await withEnv(join(store.root, 'm'), (env) => {
    const meta = env.openDB<Record<string, unknown>, string>('hps:meta', { encoding: 'json' });
    const { checksum: _, ...old } = meta.get('table:u')!;
    meta.putSync('table:u', old);
  });
  const check = run(hps, 'check', '-c', store.config, '-m', 'm');
  assert.is(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /\nm\/u: ok \(3000 rows; no checksum recorded: last written before checksums were kept, so only the rows were counted; import it again to record one\)\nok \(2 tables\)\n$/);
  const unknown = run(hps, 'check', '-c', store.config, '-m', 'nope');
  assert.is(unknown.status, 1);
  assert.match(unknown.stderr, /check: no model nope in .*; models: m/);
});

async function withEnv(path: string, fn: (env: ReturnType<typeof open>) => void): Promise<void> {
  const env = open({ path, maxDbs: 1024, compression: false, cache: false });
  try {
    fn(env);
  } finally {
    await env.close();
  }
}

test.run();
