import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { partitionsOf, rrxmrrxmsx0Big } from '../engine/redis/partition-hash.js';
import { partitionHash, tableTag } from '../engine/redis/layout.js';
import { RedisTier } from '../engine/redis/redis-tier.js';
import { connectCluster } from '../engine/redis/connect.js';
import { expectError } from './helpers/expect-error.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomInt64Keys, randomUint32Keys, randomVectors, rng, tempDir } from './helpers/lmdb-random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';

const PASSWORD = 'hps-test-secret';
let cluster: LocalCluster;
let raw: Cluster;
const dir = tempDir('redis-tier');

test.before(async () => {
  cluster = await startCluster({ password: PASSWORD });
  raw = await connectCluster({ addresses: cluster.addresses, userName: null, password: PASSWORD, tls: null, baseDir: '.', source: 'test' });
});
test.after(async () => {
  raw?.disconnect();
  await cluster?.stop();
  dir.remove();
});

/** A ps.json serving one table straight from Redis: no L1, no L3 (HPS loads the sparse file into the volatile tier). */
function psJson(model: string, table: string, dim: number, extra: Record<string, unknown> = {}, longKeys = true): object {
  return {
    supportlonglong: longKeys,
    worker_threads: 0,
    models: [{ model, sparse_files: [join(dir.path, model, table)], embedding_table_names: [table], embedding_vecsize_per_table: [dim], gpucache: false, default_value_for_each_table: [-7] }],
    volatile_db: { type: 'redis_cluster', address: cluster.address, password: PASSWORD, num_partitions: 24, ...extra },
  };
}

function sameBytes(a: Float32Array, b: Float32Array, what: string): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.is(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.unreachable(`${what}: word ${i} differs: ${x[i]} != ${y[i]}`);
}

test('the partition hash equals rrxmrrxmsx_0 % n computed with BigInt from the C source, for random keys and partition counts', () => {
  const next = rng(11);
  const keys = randomInt64Keys(20000, 3);
  for (const n of [1, 2, 3, 7, 16, 24, 1000, 4096]) {
    const parts = partitionsOf(keys, n);
    for (let i = 0; i < keys.length; i++) {
      const want = Number(rrxmrrxmsx0Big(BigInt.asUintN(64, keys[i])) % BigInt(n));
      if (parts[i] !== want) assert.unreachable(`key ${keys[i]}, ${n} partitions: ${parts[i]} != ${want}`);
    }
  }
  // A published value of the mixer (0 mixes to 0) and a hand check of one key.
  assert.is(rrxmrrxmsx0Big(0n), 0n);
  assert.ok(next() >= 0);
});

test('int64 table: lookups through Redis equal the HugeCTR files byte for byte, and the rows sit where HPS puts them', async () => {
  const dim = 13;
  const keys = randomInt64Keys(30000, 21);
  const vectors = randomVectors(keys.length, dim, 22);
  writeHugeCtr(join(dir.path, 'm64', 't'), keys, vectors);
  const ps = await ParameterServer.open(psJson('m64', 't', dim), { progress: false, log: () => {} });
  try {
    assert.equal(ps.info().models[0].tables[0].tiers, ['l2:redis-cluster']);
    // Every key, in a shuffled order with repeats and absent keys mixed in.
    const order = Array.from(keys.keys()).sort(() => Math.random() - 0.5);
    const probe = BigInt64Array.from([...order.map((i) => keys[i]), keys[5], 123456789012345n]);
    const got = await ps.lookup('m64', 't', probe);
    const want = new Float32Array(probe.length * dim);
    order.forEach((i, j) => want.set(vectors.subarray(i * dim, (i + 1) * dim), j * dim));
    want.set(vectors.subarray(5 * dim, 6 * dim), order.length * dim);
    want.fill(-7, (order.length + 1) * dim);
    sameBytes(got, want, 'lookup');
    const s = ps.stats()[0].l2Redis!;
    assert.is(s.hits, keys.length, 'distinct keys reach Redis once');
    assert.is(s.misses, 1);

    // The layout, read with a plain client: hash hps_et{<tag>/p<i>}v, field = the key's 8 LE bytes.
    const tag = tableTag('m64', 't');
    assert.is(tag, 'hps_et.m64.t');
    const seen = new Set<number>();
    const nodes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = Number(rrxmrrxmsx0Big(BigInt.asUintN(64, keys[i])) % 24n);
      seen.add(p);
      const field = Buffer.alloc(8);
      field.writeBigInt64LE(keys[i]);
      const value = await raw.hgetBuffer(`hps_et{${tag}/p${p}}v`, field);
      assert.equal(value, Buffer.from(vectors.buffer, i * dim * 4, dim * 4), `key ${keys[i]} in partition ${p}`);
    }
    assert.is(seen.size, 24, 'keys cover every partition');
    for (let p = 0; p < 24; p++) {
      assert.is(await raw.hlen(partitionHash(tag, p, 'v')), Array.from(partitionsOf(keys, 24)).filter((x) => x === p).length, `partition ${p} size`);
      const slot = await raw.call('CLUSTER', 'KEYSLOT', partitionHash(tag, p, 'v')) as number;
      assert.is(await raw.call('CLUSTER', 'KEYSLOT', partitionHash(tag, p, 't')), slot, 'v and t of a partition share a slot');
      nodes.add(String(Math.floor(slot / 5462)));
    }
    assert.is(nodes.size, 3, 'the partitions spread over all three masters\' slot ranges');
  } finally {
    await ps.close();
  }
});

test('uint32 table: 4-byte fields; rows written by hand in HPS\'s layout are read back byte for byte', async () => {
  const dim = 5;
  const keys = randomUint32Keys(4000, 31);
  const vectors = randomVectors(keys.length, dim, 32);
  // Filled "by HPS": raw HSETs with the reference hash; the server then finds the table filled and reads it.
  const tag = tableTag('m32', 't');
  for (let i = 0; i < keys.length; i++) {
    const p = Number(rrxmrrxmsx0Big(BigInt.asUintN(64, keys[i])) % 24n);
    const field = Buffer.alloc(4);
    field.writeUInt32LE(Number(keys[i]));
    await raw.hset(`hps_et{${tag}/p${p}}v`, field, Buffer.from(vectors.buffer, i * dim * 4, dim * 4));
  }
  // Sparse files with other rows: open must not overwrite a filled table.
  const other = randomVectors(keys.length, dim, 99);
  writeHugeCtr(join(dir.path, 'm32', 't'), keys, other);
  const ps = await ParameterServer.open(psJson('m32', 't', dim, {}, false), { progress: false, log: () => {} });
  try {
    const got = await ps.lookup('m32', 't', keys);
    sameBytes(got, vectors, 'rows written in HPS\'s layout');
  } finally {
    await ps.close();
  }
});

test('update() writes Redis: a second server on the cluster reads the new rows; erase() removes them', async () => {
  const dim = 8;
  const keys = randomInt64Keys(2000, 41);
  const vectors = randomVectors(keys.length, dim, 42);
  writeHugeCtr(join(dir.path, 'mu', 't'), keys, vectors);
  const a = await ParameterServer.open(psJson('mu', 't', dim), { progress: false, log: () => {} });
  const b = await ParameterServer.open(psJson('mu', 't', dim), { progress: false, log: () => {} });
  try {
    const changed = keys.subarray(100, 600);
    const fresh = randomVectors(changed.length, dim, 43);
    await a.update('mu', 't', changed, fresh);
    sameBytes(await b.lookup('mu', 't', changed), fresh, 'other server sees the update');
    await a.erase('mu', 't', changed.subarray(0, 50));
    const after = await b.lookup('mu', 't', changed.subarray(0, 60));
    assert.ok(after.subarray(0, 50 * dim).every((x) => x === -7), 'erased keys read as the default vector');
    sameBytes(after.subarray(50 * dim), fresh.subarray(50 * dim, 60 * dim), 'others stay');
  } finally {
    await a.close();
    await b.close();
  }
});

test('near cache: L3 + Redis + a host arena in front; warm lookups are served by the arena and still equal the files', async () => {
  const dim = 6;
  const keys = randomInt64Keys(5000, 51);
  const vectors = randomVectors(keys.length, dim, 52);
  writeHugeCtr(join(dir.path, 'mn', 't'), keys, vectors);
  const options: HpsOptions = {
    baseDir: dir.path, workerThreads: 0,
    models: [{ name: 'mn', l1Enabled: false, tables: [{ name: 't', dim, sparseFile: 'mn/t' }] }],
    persistentDb: { path: 'store-mn' },
    volatileDb: { type: 'redis_cluster', addresses: cluster.addresses, password: PASSWORD, numPartitions: 8, nearCache: true, initialCacheRate: 0.5, cacheMissedEmbeddings: true },
  };
  const ps = await ParameterServer.open(options, { progress: false, log: () => {} });
  try {
    assert.equal(ps.info().models[0].tables[0].tiers, ['l2:near-cache', 'l2:redis-cluster', 'l3:lmdb']);
    sameBytes(await ps.lookup('mn', 't', keys), vectors, 'cold');
    await new Promise((r) => setTimeout(r, 50));
    const before = ps.stats()[0].l2Redis!.hits + ps.stats()[0].l2Redis!.misses;
    sameBytes(await ps.lookup('mn', 't', keys), vectors, 'warm');
    const s = ps.stats()[0];
    assert.is(s.l2Redis!.hits + s.l2Redis!.misses, before, 'warm lookups never reach Redis');
    assert.is(s.l2Arena!.size, keys.length);
    // cache_missed_embeddings: the L3 half went into Redis too.
    let inRedis = 0;
    for (let p = 0; p < 8; p++) inRedis += await raw.hlen(partitionHash(tableTag('mn', 't'), p, 'v'));
    assert.is(inRedis, keys.length);
  } finally {
    await ps.close();
  }
});

function tierFor(table: string, policy: 'evict_random' | 'evict_least_used' | 'evict_oldest', margin: number, refresh = false): RedisTier {
  return new RedisTier({
    clients: [raw], model: 'ov', table, dim: 4, keyType: 'int64', numPartitions: 3, maxGetBatchSize: 7, maxSetBatchSize: 5,
    overflowMargin: margin, overflowPolicy: policy, overflowResolutionTarget: 0.5, refreshTimeAfterFetch: refresh,
    timeoutMs: 2000, retryAfterMs: 500, log: () => {},
  });
}

async function partitionFields(table: string, p: number): Promise<Set<bigint>> {
  const fields = await raw.hkeysBuffer(partitionHash(tableTag('ov', table), p, 'v'));
  return new Set(fields.map((f) => f.readBigInt64LE(0)));
}

test('overflow evict_random: each partition is cut to margin x target after it passes the margin; the survivors keep their rows', async () => {
  const tier = tierFor('random', 'evict_random', 40);
  const keys = randomInt64Keys(300, 61);
  const vectors = randomVectors(keys.length, 4, 62);
  await tier.insert(keys, vectors);
  const parts = partitionsOf(keys, 3);
  for (let p = 0; p < 3; p++) {
    const size = (await partitionFields('random', p)).size;
    assert.ok(size <= 40 && size >= 20, `partition ${p}: ${size} rows`);
  }
  const out = new Float32Array(keys.length * 4);
  const missing = new Set(await tier.lookup(keys, out));
  keys.forEach((_, i) => {
    if (!missing.has(i)) assert.equal(Array.from(out.subarray(i * 4, i * 4 + 4)), Array.from(vectors.subarray(i * 4, i * 4 + 4)));
  });
  assert.ok(tier.stats().evictions >= 300 - 3 * 40);
  assert.ok(parts.length === 300);
});

test('overflow evict_least_used: the rows read most survive; evict_oldest: the rows written first go', async () => {
  const lfu = tierFor('lfu', 'evict_least_used', 30);
  const keys = randomInt64Keys(120, 71);
  const vectors = randomVectors(keys.length, 4, 72);
  const parts = partitionsOf(keys, 3);
  const byPart = [0, 1, 2].map((p) => keys.filter((_, i) => parts[i] === p));
  // Each partition (about 40 keys) gets 20 rows (under the margin), half of them read 3 times, then all its rows.
  const first = BigInt64Array.from(byPart.flatMap((k) => Array.from(k.subarray(0, Math.min(20, k.length)))));
  await lfu.insert(first, new Float32Array(first.length * 4).fill(1));
  const hot = BigInt64Array.from(byPart.flatMap((k) => Array.from(k.subarray(0, Math.min(10, k.length)))));
  for (let r = 0; r < 3; r++) await lfu.lookup(hot, new Float32Array(hot.length * 4));
  await new Promise((r) => setTimeout(r, 100));
  await lfu.insert(keys, vectors);
  for (let p = 0; p < 3; p++) {
    const kept = await partitionFields('lfu', p);
    assert.ok(byPart[p].length > 30, `partition ${p} overflows`);
    assert.is(kept.size, 15, `partition ${p} cut to 30 x 0.5`);
    for (const k of byPart[p].subarray(0, Math.min(10, byPart[p].length))) assert.ok(kept.has(k), `hot key ${k} kept`);
  }

  const lru = tierFor('lru', 'evict_oldest', 30);
  const old = BigInt64Array.from(byPart.flatMap((k) => Array.from(k.subarray(0, 10))));
  await lru.insert(old, new Float32Array(old.length * 4).fill(2));
  await new Promise((r) => setTimeout(r, 1100)); // HPS keeps time_t seconds
  const young = BigInt64Array.from(byPart.flatMap((k) => Array.from(k.subarray(10))));
  await lru.insert(young, new Float32Array(young.length * 4).fill(3));
  for (let p = 0; p < 3; p++) {
    const kept = await partitionFields('lru', p);
    const expectKept = Math.min(byPart[p].length, byPart[p].length > 30 ? 15 : byPart[p].length);
    assert.is(kept.size, expectKept, `partition ${p}`);
    if (byPart[p].length > 30) for (const k of byPart[p].subarray(0, 10)) assert.not.ok(kept.has(k), `old key ${k} evicted first`);
  }
  const t = await raw.hgetBuffer(partitionHash(tableTag('ov', 'lru'), 0, 't'), (() => { const b = Buffer.alloc(8); b.writeBigInt64LE(byPart[0][byPart[0].length - 1]); return b; })());
  assert.ok(t && t.length === 8 && Math.abs(Number(t.readBigInt64LE(0)) - Date.now() / 1000) < 5, 'evict_oldest metadata is an 8-byte time_t');
});

test('a wrong password, and an unreachable cluster, are clear errors naming the addresses tried', async () => {
  const wrong = { ...psJson('m64', 't', 13), volatile_db: { type: 'redis_cluster', address: cluster.address, password: 'not-it', num_partitions: 4 } };
  await expectError(() => ParameterServer.open(wrong, { progress: false, log: () => {} }), 'IO',
    new RegExp(`cannot connect to the Redis cluster at ${cluster.addresses[0]}.*volatile_db.address.*authentication failed`));
  const nowhere = { ...psJson('m64', 't', 13), volatile_db: { type: 'redis_cluster', address: '127.0.0.1:1', num_partitions: 4 } };
  await expectError(() => ParameterServer.open(nowhere, { progress: false, log: () => {} }), 'IO', /cannot connect to the Redis cluster at 127\.0\.0\.1:1 .*no node answered/);
});

test.run();
