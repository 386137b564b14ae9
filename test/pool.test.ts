import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostArena } from '../engine/host/host-arena.js';
import { LookupPool } from '../engine/pool/lookup-pool.js';
import type { TableSetup } from '../engine/pipeline/table-setup.js';
import { HpsError } from '../engine/errors.js';
import { randomKeys, randomRows, rng } from './helpers/host-random.js';

const dim = 16;
const rand = rng(7);
const keys = randomKeys(rand, 20000);
const rows = randomRows(rand, keys.length, dim);
const arena = HostArena.create({ dim, numPartitions: 2 });
arena.insert(keys, rows);

const setup: TableSetup = {
  model: 'm', table: 't', dim, defaultValue: -3,
  hitRateThreshold: 0.9, approximate: false, cacheMissedEmbeddings: false,
  l1: null, l2: arena.handle(), l3Root: null, epoch: new SharedArrayBuffer(4),
};

/** A request of `n` keys: mostly present (picked at random), some absent; with its expected rows. */
function request(n: number): { keys: SharedArrayBuffer; out: SharedArrayBuffer; expected: Float32Array } {
  const ks = new BigInt64Array(new SharedArrayBuffer(n * 8));
  const expected = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (rand() < 0.9) {
      const j = Math.floor(rand() * keys.length);
      ks[i] = keys[j];
      expected.set(rows.subarray(j * dim, (j + 1) * dim), i * dim);
    } else {
      ks[i] = 1n << 62n | BigInt(i); // never inserted
      expected.fill(-3, i * dim, (i + 1) * dim);
    }
  }
  return { keys: ks.buffer as SharedArrayBuffer, out: new SharedArrayBuffer(n * dim * 4), expected };
}

function ranges(pool: LookupPool, r: ReturnType<typeof request>, n: number, pieces: number) {
  const step = Math.ceil(n / pieces);
  return Array.from({ length: pieces }, (_, p) => pool.run({
    table: 0, keys: r.keys, out: r.out, outByteOffset: 0, offset: p * step, count: Math.min(step, n - p * step), distinct: false, warm: false,
  }));
}

test('workers serve ranges of shared buffers from the shared arena, matching the inserted rows', async () => {
  const pool = new LookupPool({ threads: 2, setup: { tables: [setup] } });
  try {
    const n = 12345;
    const r = request(n);
    const results = await Promise.all(ranges(pool, r, n, 5));
    assert.equal(new Float32Array(r.out), r.expected);
    const hits = results.reduce((s, x) => s + x.counts.l2Hits, 0);
    const defaults = results.reduce((s, x) => s + x.counts.defaults, 0);
    // Counts are of distinct keys: each worker deduplicates its range.
    const distinct = results.reduce((s, x) => s + x.counts.unique, 0);
    assert.is(hits + defaults, distinct);
    assert.ok(distinct > n * 0.9 && distinct <= n, `${distinct} distinct keys in ${n}`);
    assert.ok(defaults > 0 && hits > 0);
  } finally {
    await pool.close();
  }
});

test('a saturated pool makes callers wait (bounded queue) and still serves every request', async () => {
  const pool = new LookupPool({ threads: 2, tasksPerThread: 1, setup: { tables: [setup] } });
  try {
    const reqs = Array.from({ length: 12 }, () => request(4000));
    const all = reqs.map((r) => ranges(pool, r, 4000, 2));
    assert.ok(pool.waiting > 0, `expected callers waiting for a permit, saw ${pool.waiting}`);
    await Promise.all(all.flat());
    for (const r of reqs) assert.equal(new Float32Array(r.out), r.expected);
  } finally {
    await pool.close();
  }
});

test('a worker killed mid-request fails that request with WORKER_DIED; the pool replaces it and the next request succeeds', async () => {
  const exited: number[] = [];
  const pool = new LookupPool({ threads: 2, setup: { tables: [setup] }, onWorkerExit: (id) => exited.push(id) });
  try {
    await Promise.all(ranges(pool, request(100), 100, 2)); // workers up
    const big = request(200000);
    const pending = ranges(pool, big, 200000, 2).map((p) => p.then(() => null, (e: unknown) => e));
    const killed = pool.workers.map((w) => w.threadId);
    for (const w of pool.workers) void w.terminate();
    const errors = await Promise.all(pending);
    const failed = errors.filter((e) => e !== null);
    assert.ok(failed.length > 0, 'a request on a killed worker must fail');
    for (const e of failed) {
      assert.instance(e, HpsError);
      assert.is((e as HpsError).code, 'WORKER_DIED');
      assert.match((e as HpsError).message, /worker serving keys \[\d+, \d+\) of table 0 failed/);
    }
    const next = request(5000);
    await Promise.all(ranges(pool, next, 5000, 2));
    assert.equal(new Float32Array(next.out), next.expected);
    for (const id of killed) assert.ok(exited.includes(id), `the exit of worker ${id} was reported so the tiers free what it held`);
  } finally {
    await pool.close();
  }
});

test.after(() => arena.close());
test.run();
