import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { loadEngine } from '../lib/engine.js';
import { batchKeys, checkBatch, distinctFraction, STREAMS, type HostTable, type StreamName } from '../lib/host-table.js';
import { rateAsync, rateSync } from '../lib/measure.js';
import { processCpuSeconds } from '../lib/cpu.js';
import type { RunContext } from '../lib/context.js';
import type { Suite } from '../lib/suite.js';

type HostArenaModule = typeof import('../../engine/host/host-arena.js');
type HostArena = import('../../engine/host/host-arena.js').HostArena;

/**
 * The host tier alone with every key resident: HostArena.lookup on one thread, then on one and two
 * worker threads each with its own attach() to the same arena. Compared with the C gather (limit).
 */
export const hostSuite: Suite = {
  name: 'host',
  description: 'HostArena lookups, all keys resident: one thread, then 1 and 2 worker threads (attach)',
  needs: ['limit'],
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

    const out = new Float32Array(table.batch * table.dim);
    for (const stream of STREAMS) {
      verify(arena, table, stream, out);
      let b = 0;
      const cpu0 = processCpuSeconds();
      const wall0 = performance.now();
      const rate = rateSync(`host ${stream}`, () => {
        arena.lookup(batchKeys(table, stream, b++), out);
      }, table.batch, ctx.measure);
      ctx.record('host', report.figure(`host 1 thread ${stream}`, 'keys/s', rate, `${((rate.median * table.dim * 4) / 1e9).toFixed(2)} GB/s of rows${coresNote(cpu0, wall0)}`));
    }
    for (const stream of STREAMS) {
      const limit = ctx.borrow(report, 'limit', `limit ${stream}`);
      const host = report.figures.find((f) => f.name === `host 1 thread ${stream}`)!;
      if (limit) report.ratio(`host 1 thread / limit (${stream})`, host, limit, 0.7);
    }

    const cores = availableParallelism();
    if (cores < 2) report.note(`only ${cores} core: the two-worker figure cannot scale here`);
    for (const workers of [1, 2]) {
      const pool = await startWorkers(arena, table, workers);
      try {
        for (const stream of STREAMS) {
          const perTask = Math.max(1, Math.min(table.batches, Math.ceil(2 ** 19 / table.batch)));
          // Warm-up: wasm starts in V8's baseline tier in each new thread and tiers up while it runs.
          for (let w = 0; w < 3; w++) await Promise.all(pool.map((wk) => wk.run({ stream, first: 0, count: table.batches })));
          let first = 0;
          const cpu0 = processCpuSeconds();
          const wall0 = performance.now();
          const rate = await rateAsync(`host ${workers} workers ${stream}`, async () => {
            const start = first;
            first += perTask;
            const replies = await Promise.all(pool.map((w, i) => w.run({ stream, first: start + i * 7, count: perTask })));
            const missing = replies.reduce((a, r) => a + r.missing, 0);
            if (missing) throw new Error(`host: a worker found ${missing} keys missing; every key is resident`);
          }, workers * perTask * table.batch, ctx.measure);
          ctx.record('host', report.figure(`host ${workers} worker${workers > 1 ? 's' : ''} ${stream}`, 'keys/s', rate,
            `${perTask} batches per task per worker${coresNote(cpu0, wall0)}`));
        }
      } finally {
        await Promise.all(pool.map((w) => w.stop()));
      }
    }
    for (const stream of STREAMS) {
      const one = report.figures.find((f) => f.name === `host 1 worker ${stream}`)!;
      const two = report.figures.find((f) => f.name === `host 2 workers ${stream}`)!;
      report.ratio(`host 2 workers / 1 worker (${stream})`, two, one, 1.6);
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

/** How many cores the process got while a figure was measured (its CPU time over the wall time). */
function coresNote(cpu0: number | null, wall0: number): string {
  const cpu1 = processCpuSeconds();
  if (cpu0 === null || cpu1 === null) return '';
  return `; the process got ${((cpu1 - cpu0) / ((performance.now() - wall0) / 1000)).toFixed(2)} cores meanwhile`;
}
