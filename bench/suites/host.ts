import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { loadEngine } from '../lib/engine.js';
import { batchKeys, checkBatch, distinctFraction, STREAMS, type HostTable, type StreamName } from '../lib/host-table.js';
import { samplesAsync, samplesSync } from '../lib/measure.js';
import { summarize } from '../lib/stats.js';
import { gatherTool } from './limit.js';
import { processCpuSeconds } from '../lib/cpu.js';
import type { RunContext } from '../lib/context.js';
import type { Suite } from '../lib/suite.js';

type HostArenaModule = typeof import('../../engine/host/host-arena.js');
type HostArena = import('../../engine/host/host-arena.js').HostArena;

/** Slices in which each side of an interleaved ratio is measured, in turn (host vs C gather, 1 vs 2 workers). */
const ROUNDS = 5;

/**
 * The host tier alone with every key resident: HostArena.lookup on one thread, interleaved with the C
 * gather of the limit suite, then on one and two worker threads (each with its own attach() to the same
 * arena), interleaved with each other.
 */
export const hostSuite: Suite = {
  name: 'host',
  description: 'HostArena lookups, all keys resident: one thread, then 1 and 2 worker threads (attach)',
  needs: [],
  async run(ctx, report) {
    const table = ctx.table();
    const loaded = await loadedArena(ctx);
    if ('missing' in loaded) {
      report.skip('host', loaded.missing);
      return;
    }
    const { arena, partitions, loadSeconds } = loaded;
    report.sizes = { keys: table.keys, dim: table.dim, batch: table.batch, batches: table.batches, partitions };
    report.note(`loaded ${table.keys} keys in ${loadSeconds.toFixed(2)} s; distinct keys touched by the streams: zipf ${(100 * distinctFraction(table, 'zipf')).toFixed(1)}%, uniform ${(100 * distinctFraction(table, 'uniform')).toFixed(1)}% of the table`);

    // One thread, interleaved with the C gather: ROUNDS slices of each in turn, so that both see the same
    // background load on a shared machine and the ratio compares like with like.
    const tool = await gatherTool(ctx);
    if ('missing' in tool) report.skip('host 1 thread / limit', tool.missing);
    const out = new Float32Array(table.batch * table.dim);
    const slice = { maxTime: ctx.measure.maxTime / ROUNDS, minSamples: Math.max(2, Math.ceil(ctx.measure.minSamples / ROUNDS)) };
    for (const stream of STREAMS) {
      verify(arena, table, stream, out);
      let b = 0;
      const hostRates: number[] = [];
      const limitRates: number[] = [];
      const cpu0 = processCpuSeconds();
      const wall0 = performance.now();
      let hostSeconds = 0;
      for (let r = 0; r < ROUNDS; r++) {
        if (!('missing' in tool)) limitRates.push(...tool.run(stream, slice.maxTime, slice.minSamples));
        const t0 = performance.now();
        hostRates.push(...samplesSync(`host ${stream}`, () => {
          arena.lookup(batchKeys(table, stream, b++), out);
        }, table.batch, slice));
        hostSeconds += (performance.now() - t0) / 1000;
      }
      const rate = summarize(hostRates);
      const host = report.figure(`host 1 thread ${stream}`, 'keys/s', rate,
        `${((rate.median * table.dim * 4) / 1e9).toFixed(2)} GB/s of rows${coresNote(cpu0, wall0, hostSeconds)}`);
      ctx.record('host', host);
      if (limitRates.length) {
        const limit = report.figure(`limit ${stream} (interleaved)`, 'keys/s', summarize(limitRates), `the C gather of suite limit, run in ${ROUNDS} slices between the host slices`);
        report.ratio(`host 1 thread / limit (${stream})`, host, limit, 0.7);
      }
    }

    const cores = availableParallelism();
    if (cores < 2) report.note(`only ${cores} core: the two-worker figure cannot scale here`);
    // One and two workers, interleaved in ROUNDS slices like the one-thread figure.
    const pools = { 1: await startWorkers(arena, table, 1), 2: await startWorkers(arena, table, 2) };
    const perTask = Math.max(1, Math.min(table.batches, Math.ceil(2 ** 19 / table.batch)));
    try {
      for (const stream of STREAMS) {
        // Warm-up: wasm starts in V8's baseline tier in each new thread and tiers up while it runs.
        for (const pool of Object.values(pools)) {
          for (let w = 0; w < 3; w++) await Promise.all(pool.map((wk) => wk.run({ stream, first: 0, count: table.batches })));
        }
        const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
        const cpu: Record<1 | 2, number> = { 1: 0, 2: 0 };
        const wall: Record<1 | 2, number> = { 1: 0, 2: 0 };
        let first = 0;
        for (let r = 0; r < ROUNDS; r++) {
          for (const workers of [1, 2] as const) {
            const pool = pools[workers];
            const cpu0 = processCpuSeconds() ?? 0;
            const wall0 = performance.now();
            rates[workers].push(...await samplesAsync(`host ${workers} workers ${stream}`, async () => {
              const start = first;
              first += perTask;
              const replies = await Promise.all(pool.map((w, i) => w.run({ stream, first: start + i * 7, count: perTask })));
              const missing = replies.reduce((a, x) => a + x.missing, 0);
              if (missing) throw new Error(`host: a worker found ${missing} keys missing; every key is resident`);
            }, workers * perTask * table.batch, slice));
            cpu[workers] += (processCpuSeconds() ?? 0) - cpu0;
            wall[workers] += (performance.now() - wall0) / 1000;
          }
        }
        const figures = ([1, 2] as const).map((workers) => {
          const got = processCpuSeconds() === null ? '' : `; the process got ${(cpu[workers] / wall[workers]).toFixed(2)} cores meanwhile`;
          const f = report.figure(`host ${workers} worker${workers > 1 ? 's' : ''} ${stream}`, 'keys/s', summarize(rates[workers]),
            `${perTask} batches per task per worker, ${ROUNDS} slices interleaved with the other worker count${got}`);
          ctx.record('host', f);
          return f;
        });
        report.ratio(`host 2 workers / 1 worker (${stream})`, figures[1], figures[0], 1.6);
      }
    } finally {
      await Promise.all([...pools[1], ...pools[2]].map((w) => w.stop()));
    }
    report.note('the two-worker ratio divides by one worker driven the same way (same messages, same task size), so it measures scaling, not messaging');
  },
};

/** The host table loaded into a HostArena once per run (the latency suite reuses it). */
export async function loadedArena(ctx: RunContext): Promise<{ arena: HostArena; partitions: number; loadSeconds: number } | { missing: string }> {
  return ctx.shared('host-arena', async () => {
    const mod = await loadEngine<HostArenaModule>('host/host-arena.js');
    if ('missing' in mod) return mod;
    const table = ctx.table();
    const partitions = Math.max(1, Math.min(16, availableParallelism()));
    const t0 = performance.now();
    const arena = mod.module.HostArena.create({
      dim: table.dim, numPartitions: partitions, overflowMargin: table.keys * 2, expectedKeys: table.keys,
    });
    const chunk = 65536;
    for (let start = 0; start < table.keys; start += chunk) {
      const end = Math.min(table.keys, start + chunk);
      arena.insert(table.keyList.subarray(start, end), table.rows.subarray(start * table.dim, end * table.dim));
    }
    return { arena, partitions, loadSeconds: (performance.now() - t0) / 1000 };
  });
}

function verify(arena: HostArena, table: HostTable, stream: StreamName, out: Float32Array): void {
  for (let b = 0; b < table.batches; b++) {
    const missing = arena.lookup(batchKeys(table, stream, b), out);
    if (missing.length) throw new Error(`host: ${missing.length} keys of batch ${b} (${stream}) missing; every key is resident`);
    const bad = checkBatch(table, stream, b, out);
    if (bad) throw new Error(`host: wrong row at ${bad}`);
  }
}

interface BenchWorker {
  run(task: { stream: StreamName; first: number; count: number }): Promise<{ keys: number; missing: number }>;
  stop(): Promise<void>;
}

async function startWorkers(arena: HostArena, table: HostTable, count: number): Promise<BenchWorker[]> {
  const url = new URL('../workers/host-lookup.js', import.meta.url);
  const streams = Object.fromEntries(STREAMS.map((s) => [s, table.streams[s].keys]));
  return Promise.all(Array.from({ length: count }, async () => {
    const worker = new Worker(url, { workerData: { handle: arena.handle(), streams, batch: table.batch, batches: table.batches, dim: table.dim } });
    let pending: { resolve: (v: { keys: number; missing: number }) => void; reject: (e: Error) => void } | null = null;
    let failure: Error | null = null;
    worker.on('error', (e) => {
      failure = e;
      pending?.reject(e);
    });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    worker.on('message', (m) => {
      const p = pending;
      pending = null;
      p?.resolve(m);
    });
    return {
      run(task) {
        if (failure) return Promise.reject(failure);
        return new Promise((resolve, reject) => {
          pending = { resolve, reject };
          worker.postMessage(task);
        });
      },
      async stop() {
        await worker.terminate();
      },
    };
  }));
}

/**
 * How many cores the process got while a figure was measured: its CPU time over `seconds` of its own
 * work (default: the wall time since wall0).
 */
function coresNote(cpu0: number | null, wall0: number, seconds = (performance.now() - wall0) / 1000): string {
  const cpu1 = processCpuSeconds();
  if (cpu0 === null || cpu1 === null) return '';
  return `; the process got ${((cpu1 - cpu0) / seconds).toFixed(2)} cores meanwhile`;
}
