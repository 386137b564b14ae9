import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { UpdatePublisher } from '../engine/index.js';
import { connectCluster } from '../engine/redis/connect.js';
import { partitionHash, tableTag } from '../engine/redis/layout.js';
import { partitionsOf } from '../engine/redis/partition-hash.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';
import { binaryInfer, binaryOutput } from './helpers/serve-fixture.js';

/*
 * A real `hps serve` on a password-protected 3+3 cluster (the Redis tier and the update stream both
 * use volatile_db's credentials): updates published to the stream are applied and served; after a
 * master is SIGKILLed (no failover: a long cluster-node-timeout) requests still answer the right rows
 * from L3, the outage is logged once per partition, and /metrics counts the faults.
 */

const PASSWORD = 'metrics-secret';
const DIM = 8;
const ROWS = 3000;
const PARTITIONS = 6;
const hps = new URL('../bin/hps.js', import.meta.url).pathname;
const dir = tempDir('redis-metrics');
const keys = randomInt64Keys(ROWS, 91);
const vectors = randomVectors(ROWS, DIM, 92);
let cluster: LocalCluster;
let raw: Cluster;
let child: ChildProcess | null = null;

test.before(async () => {
  cluster = await startCluster({ password: PASSWORD, nodeTimeoutMs: 120_000 });
  raw = await connectCluster({ addresses: cluster.addresses, userName: null, password: PASSWORD, tls: null, baseDir: '.', source: 'test' });
  writeHugeCtr(join(dir.path, 'sparse'), keys, vectors);
});
test.after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  raw?.disconnect();
  await cluster?.stop();
  dir.remove();
});

/** The value of the sample `name{labels} value` of a Prometheus text, or throws naming it. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((l) => (m[2] ?? '').split(',').includes(l))) return Number(m[3]);
  }
  throw new Error(`no sample ${name}{${want.join(',')}} in:\n${text}`);
}

test('hps serve on a password cluster: updates applied; a killed master falls through to L3, is logged once per partition and counted in /metrics', async () => {
  const psJson = join(dir.path, 'ps.json');
  writeFileSync(psJson, JSON.stringify({
    supportlonglong: true,
    models: [{
      model: 'm', sparse_files: ['sparse'], embedding_table_names: ['a'], embedding_vecsize_per_table: [DIM],
      gpucache: false, max_batch_size: 4, maxnum_catfeature_query_per_table_per_sample: [500],
    }],
    volatile_db: { type: 'redis_cluster', address: cluster.address, password: PASSWORD, num_partitions: PARTITIONS, initial_cache_rate: 1 },
    persistent_db: { type: 'rocks_db', path: 'store' },
    update_source: { type: 'redis_stream', brokers: cluster.addresses[0], poll_timeout_ms: 100 },
  }));
  child = spawn(process.execPath, [hps, 'serve', '-c', psJson, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child!.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      if (parts.some((l) => l.includes('ready:'))) resolve();
    });
    child!.once('exit', (code) => reject(new Error(`hps serve exited (${code}) before it was ready:\n${lines.join('\n')}${buffered}`)));
  });
  const log = () => lines.join('\n');
  const http = /HTTP \(KServe v2\) listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log())![1];
  const metrics = /metrics listening on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(log())![1];
  const want = vectors.slice();

  const infer = async (picks: number[]) => {
    const req = binaryInfer(BigInt64Array.from(picks, (i) => keys[i]), [picks.length]);
    const res = await fetch(`${http}/v2/models/m/infer`, { method: 'POST', body: req.body, headers: req.headers });
    assert.is(res.status, 200, await res.clone().text());
    const { output } = await binaryOutput(res);
    const got = new Float32Array(new Uint8Array(output).buffer);
    picks.forEach((i, j) => {
      for (let d = 0; d < DIM; d++) if (got[j * DIM + d] !== want[i * DIM + d]) assert.unreachable(`key ${keys[i]} (row ${i}) element ${d}: ${got[j * DIM + d]} != ${want[i * DIM + d]}`);
    });
  };
  const scrape = async () => (await fetch(metrics)).text();
  const labels = { model: 'm', table: 'a' };

  // Rows through Redis (filled at open), then an update through the stream of the password cluster.
  const first = Array.from({ length: 400 }, (_, i) => i);
  await infer(first);
  let text = await scrape();
  assert.is(sample(text, 'hps_redis_hits_total', labels), 400);
  assert.is(sample(text, 'hps_redis_faults_total', labels), 0);
  assert.is(sample(text, 'hps_update_messages_total'), 0);
  const updated = Array.from({ length: 300 }, (_, i) => 1000 + i);
  const fresh = randomVectors(updated.length, DIM, 93);
  updated.forEach((i, j) => want.set(fresh.subarray(j * DIM, (j + 1) * DIM), i * DIM));
  const publisher = await UpdatePublisher.open(psJson);
  try {
    await publisher.publish('m', 'a', BigInt64Array.from(updated, (i) => keys[i]), fresh);
  } finally {
    await publisher.close();
  }
  const until = Date.now() + 20_000;
  while (sample(await scrape(), 'hps_update_rows_total') < 300) {
    if (Date.now() > until) assert.unreachable(`the update was not applied:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await infer(updated);
  text = await scrape();
  assert.is(sample(text, 'hps_update_messages_total'), 1);
  assert.is(sample(text, 'hps_update_skipped_messages_total', { reason: 'bad' }), 0);

  // Kill the master of partition 0; requests over every key still answer the right rows, from L3.
  const slots = (await raw.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const slot = (await raw.call('CLUSTER', 'KEYSLOT', partitionHash(tableTag('m', 'a'), 0, 'v'))) as number;
  const owner = slots.find(([from, to]) => slot >= from && slot <= to)!;
  const victim = `${owner[2][0]}:${owner[2][1]}`;
  cluster.kill(victim);
  const down: number[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const s = (await raw.call('CLUSTER', 'KEYSLOT', partitionHash(tableTag('m', 'a'), p, 'v'))) as number;
    if (slots.some(([from, to, node]) => s >= from && s <= to && `${node[0]}:${node[1]}` === victim)) down.push(p);
  }
  const parts = partitionsOf(keys, PARTITIONS);
  for (let at = 0; at < ROWS; at += 500) await infer(Array.from({ length: Math.min(500, ROWS - at) }, (_, i) => at + i));
  text = await scrape();
  assert.ok(sample(text, 'hps_redis_faults_total', labels) >= 1, 'faults counted');
  assert.ok(sample(text, 'hps_redis_skipped_keys_total', labels) > 0, 'keys of the down partitions skipped Redis');
  assert.is(sample(text, 'hps_redis_partitions_down', labels), down.length);
  assert.ok(sample(text, 'hps_redis_misses_total', labels) >= Array.from(parts).filter((p) => down.includes(p)).length, 'the down partitions\' keys missed Redis');
  assert.ok(sample(text, 'hps_table_tier_hits', { ...labels, tier: 'l3' }) > 0, 'and were read from L3');
  for (const p of down) {
    assert.is(lines.filter((l) => l.includes(`partition ${p}: Redis failed`)).length, 1, `partition ${p}'s outage logged once:\n${log()}`);
  }
  assert.is(lines.filter((l) => /partition \d+: Redis failed/.test(l)).length, down.length, log());

  child.kill('SIGTERM');
  const code = await new Promise((r) => child!.once('exit', r));
  assert.is(code, 0, log());
});

test.run();
