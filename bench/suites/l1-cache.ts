import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { WasmEmbeddingCache } from '../../engine/cache/wasm-cache.js';
import { SCALES } from '../lib/scales.js';
import { rateSync } from '../lib/measure.js';
import { latencyRounds } from '../lib/latency.js';
import { distinctKeys, randomRows, uniformRows, ZipfSampler } from '../lib/random.js';
import type { Suite } from '../lib/suite.js';
import type { Figure, SuiteReport } from '../lib/results.js';

const ROUNDS = 5;
const BATCHES = [256, 16384];

/**
 * The L1 cache on the CPU alone (WasmEmbeddingCache, LRU, 8 ways), sized as the tiered workload's L1
 * (5% of its rows, its dim), every queried key resident: query rate for 256- and 16,384-key batches
 * against a Map<bigint, Float32Array> holding the same rows and against a plain gather of the same rows
 * by precomputed row index (no lookup at all: the memory-bound floor of a JS caller), p50/p99 of a
 * 256-key batch inline, and the total rate of 1, 2, 4, ... reader threads on the one cache.
 */
export const l1CacheSuite: Suite = {
  name: 'l1-cache',
  description: 'WasmEmbeddingCache query vs Map<bigint, Float32Array>; 256-key batch latency inline',
  needs: [],
  async run(ctx, report) {
    const { keys: tableKeys, dim } = SCALES[ctx.scale].tiered;
    const capacity = Math.ceil(tableKeys * 0.05);
    const cache = WasmEmbeddingCache.create({ dim, capacity, policy: 'lru', ways: 8 });
    const offered = distinctKeys(cache.capacity, 61);
    cache.insertSync(offered, randomRows(offered.length * dim, 62));
    // Sets fill unevenly: query only what stayed resident.
    const keys = cache.dumpSync();
    const rows = new Float32Array(keys.length * dim);
    if (cache.querySync(keys, rows).length) throw new Error('l1-cache: a dumped key missed');
    const map = new Map<bigint, Float32Array>();
    keys.forEach((k, i) => map.set(k, rows.subarray(i * dim, (i + 1) * dim)));
    report.sizes = { capacity: cache.capacity, resident: keys.length, dim, ways: cache.ways };
    report.note(`${keys.length} of ${offered.length} inserted keys resident (${(100 * keys.length / cache.capacity).toFixed(1)}% of capacity)`);

    const streamLength = 1 << 20;
    const streams = {
      zipf: new ZipfSampler(keys.length, 1.05, 63).rows(streamLength),
      uniform: uniformRows(keys.length, streamLength, 64),
    };
    for (const [name, rowIdx] of Object.entries(streams)) {
      const stream = BigInt64Array.from(rowIdx, (r) => keys[r]);
      const gatherRows = Float32Array.from(rows); // a copy, so the cache's rows do not share its memory
      for (const batch of BATCHES) {
        const out = new Float32Array(batch * dim);
        const starts = streamLength - batch + 1;
        let b = 0;
        const l1 = rateSync(`l1 ${batch}`, () => {
          const start = (b++ * 7919 * batch) % starts;
          cache.querySync(stream.subarray(start, start + batch), out);
        }, batch, ctx.measure);
        b = 0;
        const viaMap = rateSync(`map ${batch}`, () => {
          const start = (b++ * 7919 * batch) % starts;
          for (let i = 0; i < batch; i++) out.set(map.get(stream[start + i])!, i * dim);
        }, batch, ctx.measure);
        b = 0;
        const gather = rateSync(`gather ${batch}`, () => {
          const start = (b++ * 7919 * batch) % starts;
          for (let i = 0; i < batch; i++) {
            const r = rowIdx[start + i] * dim;
            out.set(gatherRows.subarray(r, r + dim), i * dim);
          }
        }, batch, ctx.measure);
        const f1 = report.figure(`l1 query batch ${batch} ${name}`, 'keys/s', l1);
        const f2 = report.figure(`Map batch ${batch} ${name}`, 'keys/s', viaMap);
        const f3 = report.figure(`gather by row index batch ${batch} ${name}`, 'keys/s', gather, 'out.set(rows.subarray(...)) per key, row indices known: no lookup');
        report.ratio(`l1 vs Map batch ${batch} (${name})`, f1, f2, 1);
        report.ratio(`l1 vs gather by row index batch ${batch} (${name})`, f1, f3, 1);
      }
      const out = new Float32Array(256 * dim);
      const lat = await latencyRounds(ROUNDS, SCALES[ctx.scale].latency.samples, (i) => {
        const start = (i * 7919 * 256) % (streamLength - 255);
        cache.querySync(stream.subarray(start, start + 256), out);
      });
      report.figure(`l1 inline p50 batch 256 ${name}`, 'us', lat.p50);
      const p99 = report.figure(`l1 inline p99 batch 256 ${name}`, 'us', lat.p99);
      report.bound(`l1 inline p99 batch 256 / 50 us (${name})`, p99, 50, '50 us');
      if (name === 'zipf') await readerThreads(ctx.scale, report, cache, stream);
    }
    await cache.close();
  },
};

/**
 * Total query rate of N reader threads (16,384-key batches) started together on one cache, for N = 1,
 * 2, 4, ... up to the cores available (at most 8): keys of all threads / the slowest thread's time.
 */
async function readerThreads(scale: string, report: SuiteReport, cache: WasmEmbeddingCache, stream: BigInt64Array): Promise<void> {
  const batch = 16384;
  const calls = scale === 'full' ? 128 : scale === 'quick' ? 32 : 4;
  const shared = new BigInt64Array(new SharedArrayBuffer(stream.byteLength));
  shared.set(stream);
  let one: Figure | undefined;
  for (let threads = 1; threads <= Math.min(8, availableParallelism()); threads *= 2) {
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const done = Array.from({ length: threads }, (_, t) => new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL('../workers/l1-reader.js', import.meta.url), {
        workerData: { handle: cache.handle(), stream: shared, batch, calls, gate, offset: t * calls },
      });
      worker.once('message', resolve);
      worker.once('error', reject);
    }));
    while (Atomics.load(gate, 0) < threads) Atomics.wait(gate, 0, Atomics.load(gate, 0), 50);
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    const seconds = Math.max(...(await Promise.all(done)));
    const rate = (threads * calls * batch) / seconds;
    const f = report.figure(`l1 query batch 16384 zipf, ${threads} reader threads`, 'keys/s', { median: rate, min: rate, max: rate, samples: 1 }, 'all threads together, one run');
    if (threads === 1) one = f;
    else if (one) report.ratio(`${threads} reader threads vs 1`, f, one, threads * 0.8);
  }
}
