import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import type { Cluster } from 'ioredis';
import type * as Engine from '../../engine/index.js';
import type * as Connect from '../../engine/redis/connect.js';
import { clusterToolsInstalled, startCluster, type LocalCluster } from '../../test/helpers/redis-cluster.js';
import { loadEngine } from '../lib/engine.js';
import { samplesAsync, type MeasureOptions } from '../lib/measure.js';
import { distinctKeys, randomRows, seededRandom } from '../lib/random.js';
import { startRedis, type LocalRedis } from '../lib/redis-server.js';
import type { SuiteReport } from '../lib/results.js';
import { SCALES } from '../lib/scales.js';
import { summarize } from '../lib/stats.js';
import type { Suite } from '../lib/suite.js';

/**
 * The Redis Cluster volatile tier (HPS's layout: per-partition hashes read with HMGET) against the naive
 * layout a Node user would write (one string key per row, read with one ioredis MGET of the batch on a
 * redis-server, or a GET per key on the same cluster), the tier with the near cache warm, and the update
 * visibility lag from publishing to a stream to the update being visible in another serving process.
 * Every side's rows are checked against the table first; the sides are measured in interleaved slices.
 */
const MODEL = 'bench';
const TABLE = 't';
const SEED = 20261129;

export const redisSuite: Suite = {
  name: 'redis',
  description: 'Redis Cluster tier vs a naive ioredis MGET (one key per row), the near cache warm, update visibility lag',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].redis;
    if (!clusterToolsInstalled()) {
      report.skip('redis', 'redis-server and redis-cli are not installed (apt-get install redis-server redis-tools)');
      return;
    }
    const engine = await loadEngine<typeof Engine>('index.js');
    const connect = await loadEngine<typeof Connect>('redis/connect.js');
    if ('missing' in engine || 'missing' in connect) {
      report.skip('redis', 'missing' in engine ? engine.missing : (connect as { missing: string }).missing);
      return;
    }
    const { ParameterServer, UpdatePublisher } = engine.module;
    report.sizes = {
      keys: sizes.keys, dim: sizes.dim, batch: sizes.batch, partitions: sizes.partitions, rounds: sizes.rounds,
      cluster: '3 masters + 3 replicas on loopback', 'lag rates': sizes.lagRates.join(', ') + ' keys/s', 'lag seconds per round': sizes.lagSeconds,
    };
    const keys = distinctKeys(sizes.keys, SEED);
    const rows = randomRows(sizes.keys * sizes.dim, SEED + 1);
    const dir = mkdtempSync(join(tmpdir(), 'hps-bench-redis-'));
    const folder = join(dir, 'sparse');
    mkdirSync(folder);
    writeFileSync(join(folder, 'key'), keys);
    writeFileSync(join(folder, 'emb_vector'), rows);

    let cluster: LocalCluster | null = null;
    let single: LocalRedis | null = null;
    let raw: Cluster | null = null;
    const servers: Engine.ParameterServer[] = [];
    try {
      const t0 = performance.now();
      cluster = await startCluster({ nodeTimeoutMs: 5000 });
      report.note(`cluster of 6 redis-server processes up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const volatileDb = { type: 'redis_cluster' as const, addresses: cluster.addresses, numPartitions: sizes.partitions, initialCacheRate: 1 };
      const model = { name: MODEL, l1Enabled: false, tables: [{ name: TABLE, dim: sizes.dim, sparseFile: folder }] };
      // No L3: the first server fills Redis from the sparse file; the second finds it filled and loads its
      // near cache (a host arena) with every row at open.
      const tier = await ParameterServer.open({ workerThreads: 0, models: [model], volatileDb }, { progress: false, log: () => {} });
      servers.push(tier);
      const near = await ParameterServer.open({ workerThreads: 0, models: [model], volatileDb: { ...volatileDb, nearCache: true } }, { progress: false, log: () => {} });
      servers.push(near);
      report.note(`tiers: ${tier.info().models[0].tables[0].tiers.join(' -> ')}; with the near cache: ${near.info().models[0].tables[0].tiers.join(' -> ')}`);

      // The naive layout: SET <key's 8 bytes> <row bytes>, on one redis-server and on the cluster.
      single = await startRedis();
      // Without auto-pipelining (ioredis refuses to auto-pipeline binary keys of several slots); each
      // command is still written at once, without waiting for the previous answer.
      raw = await connect.module.connectCluster({ addresses: cluster.addresses, userName: null, password: null, tls: null, baseDir: '.', source: 'bench' }, false);
      await loadNaive(single, raw, keys, rows, sizes.dim);

      const batches = permutedBatches(sizes.keys, sizes.batch, SEED + 2);
      const keyBatches = batches.map((picks) => BigInt64Array.from(picks, (i) => keys[i]));
      const at = (b: number) => keyBatches[b % keyBatches.length];
      const rowBytes = sizes.dim * 4;
      const naiveOut = new Float32Array(sizes.batch * sizes.dim);
      const sides: Side[] = [
        { name: 'Redis tier', lookup: (b) => tier.lookup(MODEL, TABLE, at(b)) },
        { name: 'Redis tier, near cache warm', lookup: (b) => near.lookup(MODEL, TABLE, at(b)) },
        { name: 'naive MGET, one redis-server', lookup: (b) => naiveMget(single!, at(b), naiveOut, rowBytes) },
        { name: 'naive GET per key, cluster', lookup: (b) => naiveGets(raw!, at(b), naiveOut, rowBytes) },
      ];
      for (const side of sides) {
        for (let b = 0; b < Math.min(2, batches.length); b++) checkRows(side.name, await side.lookup(b), batches[b], rows, sizes.dim);
      }
      const samples = await interleaved(sides, sizes.rounds, sizes.batch, ctx.measure);
      const notes: Record<string, string> = {
        'Redis tier': `ParameterServer.lookup of ${sizes.batch} distinct keys, no L1, no L3: HMGET per partition (${sizes.partitions}), ioredis Cluster`,
        'Redis tier, near cache warm': 'the same with volatile_db.near_cache: every row in the process\'s host arena',
        'naive MGET, one redis-server': `one ioredis mgetBuffer of the ${sizes.batch} 8-byte keys, one string key per row, redis-server on loopback`,
        'naive GET per key, cluster': 'ioredis Cluster getBuffer per key, all sent at once, one string key per row, the same cluster',
      };
      const figures = new Map(sides.map((s) => [s.name, report.figure(`${s.name} keys/s`, 'keys/s', summarize(samples.get(s.name)!.flat()), notes[s.name])]));
      const spread = (a: string, b: string) => {
        const per = samples.get(a)!.map((xs, r) => summarize(xs).median / summarize(samples.get(b)![r]).median);
        return `${Math.min(...per).toFixed(2)}-${Math.max(...per).toFixed(2)}x over ${per.length} rounds`;
      };
      report.ratio('Redis tier vs naive MGET (one redis-server)', figures.get('Redis tier')!, figures.get('naive MGET, one redis-server')!, 1.5);
      report.ratio('Redis tier vs naive GET per key (cluster)', figures.get('Redis tier')!, figures.get('naive GET per key, cluster')!, 1.5);
      report.ratio('near cache warm vs naive MGET (one redis-server)', figures.get('Redis tier, near cache warm')!, figures.get('naive MGET, one redis-server')!, 10);
      report.note(`per-round ratios of medians: tier vs MGET ${spread('Redis tier', 'naive MGET, one redis-server')}; tier vs GET per key ${spread('Redis tier', 'naive GET per key, cluster')}; near cache vs MGET ${spread('Redis tier, near cache warm', 'naive MGET, one redis-server')}`);
      for (const s of servers.splice(0)) await s.close();

      await measureLag(report, cluster, dir, folder, keys, sizes, UpdatePublisher);
    } finally {
      for (const s of servers) await s.close();
      raw?.disconnect();
      await single?.stop();
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

interface Side {
  name: string;
  lookup(batch: number): Promise<Float32Array>;
}

/** The rows 0..n-1 in a seeded random order, cut into batches of `batch` (distinct keys within a batch). */
function permutedBatches(n: number, batch: number, seed: number): number[][] {
  const rand = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out: number[][] = [];
  for (let at = 0; at + batch <= n; at += batch) out.push(order.slice(at, at + batch));
  return out;
}

function checkRows(what: string, got: Float32Array, picks: number[], rows: Float32Array, dim: number): void {
  for (let j = 0; j < picks.length; j++) {
    for (let d = 0; d < dim; d++) {
      if (got[j * dim + d] !== rows[picks[j] * dim + d]) throw new Error(`${what}: row ${j} (table row ${picks[j]}) differs from the table at element ${d}`);
    }
  }
}

async function loadNaive(single: LocalRedis, raw: Cluster, keys: BigInt64Array, rows: Float32Array, dim: number): Promise<void> {
  const kb = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
  const rb = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
  const rowBytes = dim * 4;
  const chunk = 4096;
  for (let at = 0; at < keys.length; at += chunk) {
    const end = Math.min(keys.length, at + chunk);
    const args: Buffer[] = [];
    const sets: Promise<unknown>[] = [];
    for (let i = at; i < end; i++) {
      const k = kb.subarray(i * 8, i * 8 + 8);
      const v = rb.subarray(i * rowBytes, (i + 1) * rowBytes);
      args.push(k, v);
      sets.push(raw.set(k, v));
    }
    sets.push(single.client.mset(...args));
    await Promise.all(sets);
  }
}

async function naiveMget(single: LocalRedis, keys: BigInt64Array, out: Float32Array, rowBytes: number): Promise<Float32Array> {
  const kb = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
  const args = new Array<Buffer>(keys.length);
  for (let i = 0; i < keys.length; i++) args[i] = kb.subarray(i * 8, i * 8 + 8);
  const values = await single.client.mgetBuffer(...args);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) bytes.set(values[i]!, i * rowBytes);
  return out;
}

async function naiveGets(raw: Cluster, keys: BigInt64Array, out: Float32Array, rowBytes: number): Promise<Float32Array> {
  const kb = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
  const values = await Promise.all(Array.from({ length: keys.length }, (_, i) => raw.getBuffer(kb.subarray(i * 8, i * 8 + 8))));
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) bytes.set(values[i]!, i * rowBytes);
  return out;
}

/** Samples (keys/s) of every side, per round; each round measures the sides in a rotated order. */
async function interleaved(sides: Side[], rounds: number, batch: number, measure: MeasureOptions): Promise<Map<string, number[][]>> {
  const out = new Map(sides.map((s) => [s.name, [] as number[][]]));
  const slice: MeasureOptions = { maxTime: measure.maxTime / rounds, minSamples: Math.max(3, Math.ceil(measure.minSamples / rounds)) };
  const next = new Map(sides.map((s) => [s.name, 0]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + r) % sides.length];
      const samples = await samplesAsync(`${side.name} round ${r}`, () => {
        const b = next.get(side.name)!;
        next.set(side.name, b + 1);
        return side.lookup(b);
      }, batch, slice);
      out.get(side.name)!.push(samples);
    }
  }
  return out;
}

type Sizes = (typeof SCALES)['full']['redis'];

/**
 * Update visibility lag: a serving process (L3 + the Redis tier + the update source) reports when each
 * batch of stream messages became visible to its lookups; this process publishes messages of
 * rate / 100 keys every 10 ms and takes lag = visible - just before XADD, per message, on one wall
 * clock. The rates alternate over the rounds; a figure is the median (min, max) of a percentile over them.
 */
async function measureLag(
  report: SuiteReport, cluster: LocalCluster, dir: string, folder: string, keys: BigInt64Array, sizes: Sizes,
  UpdatePublisher: typeof Engine.UpdatePublisher,
): Promise<void> {
  const config = join(dir, 'lag.ps.json');
  writeFileSync(config, JSON.stringify({
    supportlonglong: true,
    models: [{ model: MODEL, sparse_files: [folder], embedding_table_names: [TABLE], embedding_vecsize_per_table: [sizes.dim], gpucache: false }],
    volatile_db: { type: 'redis_cluster', address: cluster.address, num_partitions: sizes.partitions, initial_cache_rate: 0 },
    persistent_db: { type: 'rocks_db', path: join(dir, 'lag-store') },
    update_source: { type: 'redis_stream', brokers: cluster.address, stream_prefix: 'lag.' },
  }));
  const worker = new URL('../workers/update-lag.js', import.meta.url).pathname;
  const child = fork(worker, [config], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const applied: { id: string; at: number }[] = [];
  const waiting: ((m: Record<string, unknown>) => boolean)[] = [];
  child.on('message', (m: Record<string, unknown>) => {
    if (typeof m.applied === 'string') applied.push({ id: m.applied, at: m.at as number });
    for (let i = 0; i < waiting.length; i++) if (waiting[i](m)) waiting.splice(i--, 1);
  });
  const next = (key: string) => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting.push((m) => (key in m ? (resolve(m), true) : false));
    child.once('exit', (code) => reject(new Error(`the update-lag process exited (${code})`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  const t0 = performance.now();
  await next('ready');
  report.note(`update-lag process (L3 import of ${sizes.keys} rows, Redis tier, update source) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const publisher = await UpdatePublisher.open(config);
  try {
    const rand = seededRandom(SEED + 3);
    const latest = new Map<number, Float32Array>();
    const p50 = new Map<number, number[]>(sizes.lagRates.map((r) => [r, []]));
    const p99 = new Map<number, number[]>(sizes.lagRates.map((r) => [r, []]));
    const achieved = new Map<number, number[]>(sizes.lagRates.map((r) => [r, []]));
    let version = 0;
    for (let round = 0; round < sizes.lagRounds; round++) {
      for (const rate of round % 2 === 0 ? sizes.lagRates : [...sizes.lagRates].reverse()) {
        const perMessage = Math.max(1, Math.round(rate / 100));
        const messages = Math.max(1, Math.round(sizes.lagSeconds * 100));
        const sent: { id: string; at: number }[] = [];
        const start = performance.now();
        for (let m = 0; m < messages; m++) {
          const due = start + m * 10;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const picks = Array.from({ length: perMessage }, () => Math.floor(rand() * keys.length));
          const unique = [...new Set(picks)];
          version++;
          const vectors = new Float32Array(unique.length * sizes.dim);
          unique.forEach((row, j) => {
            for (let d = 0; d < sizes.dim; d++) vectors[j * sizes.dim + d] = version + d / 1000;
            latest.set(row, vectors.subarray(j * sizes.dim, (j + 1) * sizes.dim));
          });
          const at = performance.timeOrigin + performance.now();
          const id = await publisher.publish(MODEL, TABLE, BigInt64Array.from(unique, (row) => keys[row]), vectors);
          sent.push({ id, at });
        }
        const seconds = (performance.now() - start) / 1000;
        achieved.get(rate)!.push((messages * perMessage) / seconds);
        const last = sent[sent.length - 1].id;
        const until = Date.now() + 30_000;
        while (!applied.some((a) => !idBefore(a.id, last))) {
          if (Date.now() > until) throw new Error(`the update-lag process did not apply stream ID ${last} within 30 s`);
          await new Promise((r) => setTimeout(r, 5));
        }
        const h = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 6e8, numberOfSignificantValueDigits: 3, useWebAssembly: false });
        let a = 0;
        for (const s of sent) {
          while (idBefore(applied[a].id, s.id)) a++;
          h.recordValue(Math.max(1, Math.round((applied[a].at - s.at) * 1000)));
        }
        p50.get(rate)!.push(h.getValueAtPercentile(50) / 1000);
        p99.get(rate)!.push(h.getValueAtPercentile(99) / 1000);
        h.destroy();
        applied.splice(0, applied.length);
      }
    }
    // The serving process ends with the last published row of every key it was sent.
    const check = [...latest.keys()].slice(-200);
    child.send({ op: 'lookup', model: MODEL, table: TABLE, keys: check.map((row) => String(keys[row])) });
    const got = (await next('rows')).rows as number[];
    check.forEach((row, j) => {
      const want = latest.get(row)!;
      for (let d = 0; d < sizes.dim; d++) if (got[j * sizes.dim + d] !== want[d]) throw new Error(`update lag: key ${keys[row]} is not the last published row in the serving process`);
    });
    for (const rate of sizes.lagRates) {
      const perMessage = Math.max(1, Math.round(rate / 100));
      const note = `publish of ${perMessage} keys every 10 ms to visible in another process (applied by its update source), ${sizes.lagSeconds} s per round`;
      report.figure(`update lag p50 at ${rate} keys/s`, 'ms', summarize(p50.get(rate)!), note);
      const f99 = report.figure(`update lag p99 at ${rate} keys/s`, 'ms', summarize(p99.get(rate)!), note);
      const rates = achieved.get(rate)!;
      report.note(`${rate} keys/s asked: ${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)} keys/s published (distinct keys per message may be fewer)`);
      if (rate === 10_000) report.bound('update lag p99 at 10000 keys/s vs 50 ms', f99, 50, '50 ms', '<=');
    }
  } finally {
    await publisher.close();
    if (child.connected) child.send({ op: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether stream ID `a` comes before `b`. */
function idBefore(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am < bm || (am === bm && as < bs);
}
