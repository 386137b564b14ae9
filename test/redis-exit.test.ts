import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomVectors, tempDir } from './helpers/lmdb-random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';

/*
 * A process that used the Redis tier (several cluster clients) and the update source (a reader blocked
 * in XREAD) exits on its own once it closed the ParameterServer and the UpdatePublisher: close()
 * leaves no connection, timer or socket behind, also when a cluster client is disconnected in the
 * middle of a slot-map refresh (ioredis's own periodic refresh then rescheduled itself forever).
 */

const DIM = 4;
const child = fileURLToPath(new URL('./helpers/redis-exit-child.js', import.meta.url));
const dir = tempDir('redis-exit');
let cluster: LocalCluster;

test.before(async () => {
  cluster = await startCluster();
  writeHugeCtr(join(dir.path, 'sparse'), BigInt64Array.from({ length: 500 }, (_, i) => BigInt(i + 1)), randomVectors(500, DIM, 5));
});
test.after(async () => {
  await cluster?.stop();
  dir.remove();
});

function config(name: string, extra: Record<string, unknown>): string {
  const file = join(dir.path, `${name}.ps.json`);
  writeFileSync(file, JSON.stringify({
    supportlonglong: true,
    models: [{ model: 'm', sparse_files: [join(dir.path, 'sparse')], embedding_table_names: ['t'], embedding_vecsize_per_table: [DIM] }],
    volatile_db: { type: 'redis_cluster', address: cluster.address, num_partitions: 6, num_node_connections: 3, near_cache: true, cache_missed_embeddings: true },
    update_source: { type: 'redis_stream', brokers: cluster.address, stream_prefix: `${name}.`, poll_timeout_ms: 2000 },
    ...extra,
  }));
  return file;
}

async function runChild(args: string[]): Promise<void> {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => { out += c; });
  proc.stderr.on('data', (c: Buffer) => { out += c; });
  const started = Date.now();
  let closedAt = 0;
  proc.stdout.on('data', () => { if (!closedAt && out.includes('closed')) closedAt = Date.now(); });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => proc.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  assert.is(signal, null, `killed: the process did not exit within 60 s (${Date.now() - started} ms):\n${out}`);
  assert.is(code, 0, out);
  assert.ok(out.includes('closed'), out);
  assert.not.match(out, /still open after close/, out);
  assert.ok(Date.now() - closedAt < 4000, `exited ${Date.now() - closedAt} ms after closing:\n${out}`);
}

test('with L3: a process using the tier and the update source exits on its own after close', async () => {
  for (let i = 0; i < 3; i++) await runChild(['ps', config(`l3-${i}`, { persistent_db: { type: 'rocks_db', path: join(dir.path, `store-${i}`) } }), 'm', 't', String(DIM)]);
});

test('without L3 (Redis holds the rows): the same', async () => {
  for (let i = 0; i < 3; i++) await runChild(['ps', config(`ram-${i}`, {}), 'm', 't', String(DIM)]);
});

test('a cluster client disconnected while its periodic slot-map refresh is in flight leaves no timer behind', async () => {
  for (let i = 0; i < 2; i++) await runChild(['refresh', cluster.address]);
});

test.run();
