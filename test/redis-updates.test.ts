import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { LmdbStore, ParameterServer, UpdatePublisher } from '../engine/index.js';
import { connectCluster } from '../engine/redis/connect.js';
import { writeHugeCtr, writeJsonl } from './helpers/import-files.js';
import { tempDir } from './helpers/lmdb-random.js';
import { rng } from './helpers/random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';

/*
 * Online updates through Redis Streams on a real cluster (which also holds the shared volatile tier):
 * serving processes apply every message, torn-free, resume after a crash exactly after their stored
 * stream ID, and skip bad messages.
 */

const DIM = 8;
const KEYS = 1500;
const child = fileURLToPath(new URL('./helpers/update-server-child.js', import.meta.url));
let cluster: LocalCluster;
let raw: Cluster;
const dir = tempDir('redis-updates');
const keys = BigInt64Array.from({ length: KEYS }, (_, i) => BigInt(i * 7 + 1));

/** Version v of a key's row: row[j] = v * 1000 + j + 0.5, so a row mixing two versions is visible. */
function rowsOf(versions: number[]): Float32Array {
  const out = new Float32Array(versions.length * DIM);
  versions.forEach((v, i) => { for (let j = 0; j < DIM; j++) out[i * DIM + j] = v * 1000 + j + 0.5; });
  return out;
}

test.before(async () => {
  cluster = await startCluster();
  raw = await connectCluster({ addresses: cluster.addresses, userName: null, password: null, tls: null, baseDir: '.', source: 'test' });
  writeHugeCtr(join(dir.path, 'sparse'), keys, rowsOf(new Array(KEYS).fill(0)));
});
test.after(async () => {
  raw?.disconnect();
  await cluster?.stop();
  dir.remove();
});

function config(store: string, prefix: string): string {
  const file = join(dir.path, `${store}.ps.json`);
  writeFileSync(file, JSON.stringify({
    supportlonglong: true,
    worker_threads: 0,
    models: [{ model: 'm', sparse_files: [join(dir.path, 'sparse')], embedding_table_names: ['t'], embedding_vecsize_per_table: [DIM], gpucacheper: 0.3 }],
    volatile_db: { type: 'redis_cluster', address: cluster.address, num_partitions: 6, num_node_connections: 2 },
    persistent_db: { type: 'rocks_db', path: join(dir.path, store) },
    update_source: { type: 'redis_stream', brokers: cluster.address, stream_prefix: prefix, max_batch_size: 500, poll_timeout_ms: 100 },
  }));
  return file;
}

interface Server { proc: ChildProcess; applied: string[]; ask<T>(m: object, key: string): Promise<T> }

function startServer(file: string): Promise<Server> {
  const proc = fork(child, [file, String(KEYS), String(DIM)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const applied: string[] = [];
  const waiting: ((m: Record<string, unknown>) => boolean)[] = [];
  proc.on('message', (m: Record<string, unknown>) => {
    if (typeof m.applied === 'string') applied.push(m.applied);
    for (let i = 0; i < waiting.length; i++) if (waiting[i](m)) waiting.splice(i--, 1);
  });
  const next = (key: string) => new Promise<any>((resolve) => waiting.push((m) => (key in m ? (resolve(m), true) : false)));
  const server: Server = {
    proc, applied,
    async ask<T>(m: object, key: string) {
      const answer = next(key);
      proc.send(m);
      return (await answer) as T;
    },
  };
  return next('ready').then(() => server);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function streamIdAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am > bm || (am === bm && as > bs);
}

test('an update stream of random batches against 2 server processes: both end with the last published rows, no reader sees a mixed row', async () => {
  const files = [config('store-a', 'two.'), config('store-b', 'two.')];
  const servers = await Promise.all(files.map(startServer));
  const publisher = await UpdatePublisher.open(files[0]);
  try {
    const r = rng(7);
    const version = new Array(KEYS).fill(0);
    let last = '';
    for (let b = 1; b <= 60; b++) {
      const n = 20 + Math.floor(r() * 300);
      const picked = new Set<number>();
      while (picked.size < n) picked.add(Math.floor(r() * KEYS));
      const idx = [...picked];
      idx.forEach((i) => { version[i] = b; });
      last = await publisher.publish('m', 't', BigInt64Array.from(idx.map((i) => keys[i])), rowsOf(idx.map(() => b)));
      if (b % 10 === 0) await new Promise((res) => setTimeout(res, 20));
    }
    for (const s of servers) {
      await waitFor(async () => s.applied.some((id) => id === last || streamIdAfter(id, last)), 'the stream to drain');
    }
    const want = rowsOf(version);
    for (const s of servers) {
      const { rows } = await s.ask<{ rows: number[] }>({ op: 'lookup', keys: Array.from(keys, String) }, 'rows');
      for (let i = 0; i < rows.length; i++) if (rows[i] !== want[i]) assert.unreachable(`row ${Math.floor(i / DIM)}: ${rows[i]} != ${want[i]}`);
      const { stats, mixed, reads } = await s.ask<{ stats: { messages: number; badMessages: number }; mixed: number; reads: number }>({ op: 'stats' }, 'stats');
      assert.is(mixed, 0, 'no reader saw a row mixing two versions');
      assert.ok(reads > 3, `the readers ran during the stream (${reads} passes)`);
      assert.is(stats.messages, 60);
      assert.is(stats.badMessages, 0);
    }
  } finally {
    await publisher.close();
    for (const s of servers) { s.proc.send({ op: 'stop' }); await new Promise((res) => s.proc.once('exit', res)); }
  }
});

test('a server killed mid-stream and restarted applies exactly the messages after its stored stream ID', async () => {
  const file = config('store-c', 'restart.');
  const publisher = await UpdatePublisher.open(file);
  const version = new Array(KEYS).fill(0);
  const publish = async (b: number) => {
    const idx = Array.from({ length: 100 }, (_, i) => (b * 37 + i * 11) % KEYS);
    idx.forEach((i) => { version[i] = b; });
    return publisher.publish('m', 't', BigInt64Array.from(idx.map((i) => keys[i])), rowsOf(idx.map(() => b)));
  };
  try {
    let server = await startServer(file);
    for (let b = 1; b <= 40; b++) await publish(b);
    await waitFor(async () => server.applied.length >= 2, 'some batches applied');
    server.proc.kill('SIGKILL');
    await new Promise((res) => server.proc.once('exit', res));
    for (let b = 41; b <= 60; b++) await publish(b);

    const stream = 'restart.hps_et.m.t';
    const store = LmdbStore.open(join(dir.path, 'store-c'), 'm', { readOnly: true });
    const stored = store.mark(`stream:${stream}`)!;
    await store.close();
    assert.ok(stored, 'the killed server stored the ID of what it applied');
    const after = (await raw.xrange(stream, `(${stored}`, '+')).length;
    assert.ok(after > 0 && after <= 59, `${after} messages after the stored ID`);

    server = await startServer(file);
    const lastId = (await raw.xrevrange(stream, '+', '-', 'COUNT', 1))[0][0];
    await waitFor(async () => server.applied.some((id) => id === lastId), 'the restarted server to drain');
    const { stats } = await server.ask<{ stats: { messages: number } }>({ op: 'stats' }, 'stats');
    assert.is(stats.messages, after, 'exactly the messages after the stored ID, none twice, none lost');
    const { rows } = await server.ask<{ rows: number[] }>({ op: 'lookup', keys: Array.from(keys, String) }, 'rows');
    const want = rowsOf(version);
    for (let i = 0; i < rows.length; i++) if (rows[i] !== want[i]) assert.unreachable(`row ${Math.floor(i / DIM)}: ${rows[i]} != ${want[i]}`);
    server.proc.send({ op: 'stop' });
    await new Promise((res) => server.proc.once('exit', res));
  } finally {
    await publisher.close();
  }
});

test('messages with a bad length or another table are counted, logged once with their ID, and skipped; the stream goes on', async () => {
  const lines: string[] = [];
  const ps = await ParameterServer.open(config('store-d', 'bad.'), { progress: false, log: () => {}, warn: (l) => lines.push(l) });
  try {
    const stream = 'bad.hps_et.m.t';
    const k = BigInt64Array.from([keys[1], keys[2]]);
    const ids = [
      await raw.xadd(stream, '*', 'keys', Buffer.alloc(7), 'vectors', Buffer.alloc(DIM * 4)),
      await raw.xadd(stream, '*', 'keys', Buffer.from(k.buffer), 'vectors', Buffer.alloc(DIM * 4 * 3)),
      await raw.xadd(stream, '*', 'keys', Buffer.from(k.buffer), 'vectors', Buffer.from(rowsOf([5, 5]).buffer), 'table', 'hps_et.m.other'),
      await raw.xadd(stream, '*', 'keys', Buffer.from(k.buffer), 'vectors', Buffer.from(rowsOf([9, 9]).buffer)),
    ];
    await waitFor(async () => ps.updateStats()!.lastIds[stream] === ids[3], 'the good message');
    const s = ps.updateStats()!;
    assert.equal([s.badMessages, s.unknownTable, s.messages], [2, 1, 1]);
    for (const id of ids.slice(0, 3)) assert.is(lines.filter((l) => l.includes(`message ${id} skipped`)).length, 1, `one line for ${id}`);
    assert.equal(Array.from(await ps.lookup('m', 't', k)), Array.from(rowsOf([9, 9])));
  } finally {
    await ps.close();
  }
});

test('hps publish --jsonl sends a file\'s rows to the table\'s stream; a serving process applies them', async () => {
  const file = config('store-e', 'cli.');
  const ps = await ParameterServer.open(file, { progress: false, log: () => {}, warn: () => {} });
  try {
    const k = keys.subarray(10, 310);
    const rows = rowsOf(Array.from(k, (_, i) => 100 + i));
    writeJsonl(join(dir.path, 'rows.jsonl'), k, rows, DIM);
    const cli = fileURLToPath(new URL('../bin/hps.js', import.meta.url));
    const run = spawnSync(process.execPath, [cli, 'publish', '-c', file, '-m', 'm', '-t', 't', '--jsonl', join(dir.path, 'rows.jsonl')], { encoding: 'utf8' });
    assert.is(run.status, 0, run.stderr);
    assert.match(run.stdout, /published 300 rows to m\/t; last stream ID \d+-\d+/);
    await waitFor(async () => ps.updateStats()!.rows === 300, 'the published rows');
    assert.equal(Array.from(await ps.lookup('m', 't', k)), Array.from(rows));
  } finally {
    await ps.close();
  }
});

test.run();
