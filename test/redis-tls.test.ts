import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParameterServer, UpdatePublisher } from '../engine/index.js';
import { expectError } from './helpers/expect-error.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { startCluster, type LocalCluster } from './helpers/redis-cluster.js';

/*
 * A TLS-only 3+3 cluster with a password (nodes on --tls-port only, TLS between them for the cluster bus
 * and replication, clients must present a certificate): the tier reads it with volatile_db's
 * enable_tls, tls_* files and server name, and the update source and UpdatePublisher reach the streams
 * with the same settings. A CA that did not sign the nodes' certificate is a clear error at open.
 */

const PASSWORD = 'tls-secret';
const DIM = 6;
const ROWS = 4000;
const dir = tempDir('redis-tls');
const keys = randomInt64Keys(ROWS, 101);
const vectors = randomVectors(ROWS, DIM, 102);
let cluster: LocalCluster;

test.before(async () => {
  cluster = await startCluster({ tls: true, password: PASSWORD });
  writeHugeCtr(join(dir.path, 'sparse'), keys, vectors);
});
test.after(async () => {
  await cluster?.stop();
  dir.remove();
});

function psJson(name: string, ca: string): string {
  const file = join(dir.path, `${name}.ps.json`);
  writeFileSync(file, JSON.stringify({
    supportlonglong: true,
    models: [{ model: 'm', sparse_files: [join(dir.path, 'sparse')], embedding_table_names: ['t'], embedding_vecsize_per_table: [DIM], gpucache: false }],
    volatile_db: {
      type: 'redis_cluster', address: cluster.address, password: PASSWORD, num_partitions: 6, initial_cache_rate: 1,
      enable_tls: true, tls_ca_certificate: ca, tls_client_certificate: cluster.tls!.cert, tls_client_key: cluster.tls!.key,
      tls_server_name_identification: 'localhost',
    },
    persistent_db: { type: 'rocks_db', path: join(dir.path, `${name}-store`) },
    update_source: { type: 'redis_stream', brokers: cluster.address, poll_timeout_ms: 100 },
  }));
  return file;
}

test('TLS cluster: lookups through Redis equal the files; an update published over TLS is applied', async () => {
  const file = psJson('ok', cluster.tls!.ca);
  const ps = await ParameterServer.open(file, { progress: false, log: () => {}, warn: () => {} });
  try {
    assert.equal(ps.info().models[0].tables[0].tiers, ['l2:redis-cluster', 'l3:lmdb']);
    const got = await ps.lookup('m', 't', keys);
    assert.equal(new Uint32Array(got.buffer), new Uint32Array(vectors.buffer), 'rows through the TLS cluster');
    const s = ps.stats()[0];
    assert.is(s.l2Redis!.hits, ROWS, 'every key served by Redis');
    assert.is(s.l2Redis!.faults, 0);

    const changed = keys.subarray(100, 400);
    const fresh = randomVectors(changed.length, DIM, 103);
    const publisher = await UpdatePublisher.open(file);
    try {
      await publisher.publish('m', 't', changed, fresh);
    } finally {
      await publisher.close();
    }
    const until = Date.now() + 20_000;
    while ((ps.updateStats()!.rows) < changed.length) {
      if (Date.now() > until) assert.unreachable('the update was not applied');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(Array.from(await ps.lookup('m', 't', changed)), Array.from(fresh));
  } finally {
    await ps.close();
  }
});

test('a CA that did not sign the nodes\' certificate: a clear error naming the addresses', async () => {
  // The node certificate is no CA: verification of the chain fails.
  const file = psJson('bad-ca', cluster.tls!.cert);
  await expectError(() => ParameterServer.open(file, { progress: false, log: () => {}, warn: () => {} }), 'IO',
    new RegExp(`cannot connect to the Redis cluster at ${cluster.addresses[0]}.*volatile_db\\.address`));
});

test.run();
