import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { ParameterServer, type HpsOptions } from '../engine/index.js';
import { connectCluster } from '../engine/redis/connect.js';
import { partitionHash, tableTag } from '../engine/redis/layout.js';
import { partitionsOf } from '../engine/redis/partition-hash.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomInt64Keys, randomVectors, rng, tempDir } from './helpers/lmdb-random.js';
import { leftovers, startCluster, type LocalCluster } from './helpers/redis-cluster.js';

/*
 * A master of the real 3+3 cluster is SIGKILLed while 10^5 lookups run against a table served from
 * Redis with L3 behind it: no lookup fails, every row equals the HugeCTR files, and once the cluster
 * promoted the master's replica the tier serves those partitions again, without a restart.
 */

const DIM = 8;
const ROWS = 20_000;
const PARTITIONS = 12;
const LOOKUPS = 100_000;
const KEYS_PER_LOOKUP = 16;
const IN_FLIGHT = 8;
const KILL_AT = 10_000;

let cluster: LocalCluster;
let raw: Cluster;
const dir = tempDir('redis-failover');
const keys = randomInt64Keys(ROWS, 81);
const vectors = randomVectors(ROWS, DIM, 82);

test.before(async () => {
  cluster = await startCluster({ nodeTimeoutMs: 1000 });
  raw = await connectCluster({ addresses: cluster.addresses, userName: null, password: null, tls: null, baseDir: '.', source: 'test' });
  writeHugeCtr(join(dir.path, 'sparse'), keys, vectors);
});
test.after(async () => {
  raw?.disconnect();
  await cluster?.stop();
  dir.remove();
});

/** The address of the master serving `slot` now (CLUSTER SLOTS). */
async function masterOfSlot(slot: number): Promise<string> {
  const ranges = (await raw.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
  const r = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (!r) throw new Error(`no node serves slot ${slot}`);
  return `${r[2][0]}:${r[2][1]}`;
}

test('SIGKILL of a master during 10^5 lookups: 0 failed, 0 wrong rows; the promoted replica serves the tier again', async () => {
  const lines: string[] = [];
  const options: HpsOptions = {
    baseDir: dir.path, workerThreads: 0,
    models: [{ name: 'fo', l1Enabled: false, tables: [{ name: 't', dim: DIM, sparseFile: 'sparse' }] }],
    persistentDb: { path: 'store' },
    volatileDb: { type: 'redis_cluster', addresses: cluster.addresses, numPartitions: PARTITIONS, initialCacheRate: 1, cacheMissedEmbeddings: true },
  };
  const ps = await ParameterServer.open(options, { progress: false, log: () => {}, warn: (l) => lines.push(l) });
  try {
    const tag = tableTag('fo', 't');
    // The victim: the master holding partition 0. The partitions it holds are the ones that fail.
    const slotOf = async (p: number) => (await raw.call('CLUSTER', 'KEYSLOT', partitionHash(tag, p, 'v'))) as number;
    const victim = await masterOfSlot(await slotOf(0));
    const onVictim: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) if ((await masterOfSlot(await slotOf(p))) === victim) onVictim.push(p);
    const parts = partitionsOf(keys, PARTITIONS);
    const victimKeys = parts.reduce((n, p) => n + (onVictim.includes(p) ? 1 : 0), 0);
    assert.ok(victimKeys > 0 && victimKeys < ROWS, `the victim holds ${onVictim.length} partitions, ${victimKeys} keys`);
    const hashesBefore = await Promise.all(onVictim.map((p) => raw.hlen(partitionHash(tag, p, 'v'))));
    assert.ok(hashesBefore.every((n) => n > 0), 'the fill at open wrote the victim\'s partitions');

    let done = 0;
    let failed = 0;
    let wrong = 0;
    let killedAt = -1;
    const firstErrors: string[] = [];
    const check = (picks: number[], got: Float32Array) => {
      for (let j = 0; j < picks.length; j++) {
        const i = picks[j];
        for (let d = 0; d < DIM; d++) {
          if (got[j * DIM + d] !== vectors[i * DIM + d]) {
            wrong++;
            break;
          }
        }
      }
    };
    const loop = async (seed: number) => {
      const next = rng(seed);
      while (done < LOOKUPS) {
        const n = done++;
        if (n === KILL_AT) {
          cluster.kill(victim);
          killedAt = n;
        }
        const picks = Array.from({ length: KEYS_PER_LOOKUP }, () => next() % ROWS);
        try {
          check(picks, await ps.lookup('fo', 't', BigInt64Array.from(picks, (i) => keys[i])));
        } catch (err) {
          failed++;
          if (firstErrors.length < 3) firstErrors.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => loop(1000 + i)));
    assert.is(killedAt, KILL_AT, 'the master was killed during the stream');
    assert.is(failed, 0, `failed lookups: ${firstErrors.join('; ')}`);
    assert.is(wrong, 0, 'rows that differ from the HugeCTR files');
    const during = ps.stats()[0].l2Redis!;
    assert.ok(during.faults > 0, 'the lost master caused faults');
    assert.ok(during.skippedKeys > 0, 'keys of its partitions fell through while it was down');
    assert.ok(lines.some((l) => /partition \d+: Redis failed/.test(l)), lines.join('\n'));

    // The replica is promoted: every slot is served again, by three masters none of which is the victim.
    await cluster.waitHealthy();
    const masters = await cluster.masters();
    assert.is(masters.length, 3);
    assert.not.ok(masters.includes(victim), 'the killed node is no master');
    const promoted = await masterOfSlot(await slotOf(onVictim[0]));
    assert.is.not(promoted, victim);

    // Without a restart, the partitions come back: a pass over every key ends up with no fault.
    const all = BigInt64Array.from(keys);
    const until = Date.now() + 30_000;
    for (;;) {
      const before = ps.stats()[0].l2Redis!;
      const got = await ps.lookup('fo', 't', all);
      check(Array.from(keys.keys()), got);
      const after = ps.stats()[0].l2Redis!;
      if (after.faults === before.faults && after.skippedKeys === before.skippedKeys && after.partitionsDown === 0) break;
      if (Date.now() > until) assert.unreachable(`the tier still faults 30 s after the failover: ${JSON.stringify(after)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.is(wrong, 0, 'rows that differ from the HugeCTR files after the failover');
    for (const p of onVictim) assert.ok(lines.some((l) => l.includes(`partition ${p}: Redis answers again`)), `partition ${p} logged back:\n${lines.join('\n')}`);

    // Keys written back meanwhile (cache_missed_embeddings) settle; then every key is a Redis hit,
    // the victim's partitions included, and the fault counter stays where it is.
    await new Promise((r) => setTimeout(r, 300));
    await ps.lookup('fo', 't', all);
    await new Promise((r) => setTimeout(r, 300));
    const s0 = ps.stats()[0];
    check(Array.from(keys.keys()), await ps.lookup('fo', 't', all));
    const s1 = ps.stats()[0];
    assert.is(s1.l2Redis!.hits - s0.l2Redis!.hits, ROWS, 'every key served by Redis');
    assert.is(s1.l2Redis!.misses - s0.l2Redis!.misses, 0);
    assert.is(s1.l2Redis!.faults, s0.l2Redis!.faults, 'no new fault');
    assert.is(s1.l3.hits, s0.l3.hits, 'nothing read from L3');
    assert.is(wrong, 0);
    // The promoted node holds the victim's partitions (asked directly, not through the cluster client).
    const node = new Redis({ host: promoted.split(':')[0], port: Number(promoted.split(':')[1]), lazyConnect: true });
    try {
      await node.connect();
      for (const p of onVictim) {
        const want = Array.from(parts).filter((x) => x === p).length;
        assert.is(await node.hlen(partitionHash(tag, p, 'v')), want, `partition ${p} complete on the promoted master`);
      }
    } finally {
      node.disconnect();
    }
  } finally {
    await ps.close();
  }
});

test('the cluster helper leaves nothing behind: every redis-server process is gone and its folder removed', async () => {
  await cluster.stop();
  assert.equal(leftovers(cluster), []);
});

test.run();
