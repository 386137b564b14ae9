import { SCALES } from '../lib/scales.js';
import { latencyRounds } from '../lib/latency.js';
import { loadedArena } from './host.js';
import { hostServer, HOST_MODEL, HOST_TABLE } from '../lib/host-server.js';
import { quantileSorted, summarize } from '../lib/stats.js';
import { gatherTool } from './limit.js';
import type { RunContext } from '../lib/context.js';
import type { Figure, SuiteReport } from '../lib/results.js';
import type { Suite } from '../lib/suite.js';

const ROUNDS = 5;

/**
 * Latency per batch on the host table: p50 and p99 of HostArena.lookup inline (on the calling thread)
 * for each batch size of the workload, then of ParameterServer.lookup over the same table (default config:
 * inline for small batches, the worker pool for big ones; its 256-key p99 is the one checked against
 * 50 us, the arena's when no server runs yet); then the server's throughput with 1 to 64
 * requests in flight against its peak.
 */
export const latencySuite: Suite = {
  name: 'latency',
  description: 'p50/p99 per batch size served inline; throughput with 1..64 requests in flight',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].latency;
    const table = ctx.table();
    report.sizes = { keys: table.keys, dim: table.dim, batchSizes: sizes.batchSizes.join(' '), rounds: ROUNDS, inFlight: sizes.inFlight.join(' '), inFlightBatches: sizes.inFlightBatches.join(' ') };
    const loaded = await loadedArena(ctx);
    if ('missing' in loaded) {
      report.skip('latency', loaded.missing);
      return;
    }
    const { arena } = loaded;
    const stream = table.streams.zipf.keys;
    const usable = sizes.batchSizes.filter((size) => size <= stream.length);
    for (const size of sizes.batchSizes.filter((s) => s > stream.length)) report.skip(`batch ${size}`, `the query stream holds ${stream.length} keys at this scale`);

    // The host tier alone, inline.
    let inline256: Figure | undefined;
    for (const size of usable) {
      const out = new Float32Array(size * table.dim);
      const { p99 } = await percentiles(ctx, report, `host inline`, size, sizes.samples, stream, (keys) => {
        const missing = arena.lookup(keys, out);
        if (missing.length) throw new Error(`latency: ${missing.length} keys missing; every key is resident`);
      });
      if (size === 256) inline256 = p99;
    }

    // The whole store: ParameterServer.lookup (inline for small batches, the worker pool for big ones).
    const opened = await hostServer(ctx);
    const why = 'missing' in opened ? opened.missing
      : opened.tiers.length < 3 ? `the ParameterServer serves the table from ${opened.tiers.join(', ')} only (L1 and L2 not wired in yet)` : null;
    if (why || 'missing' in opened) {
      if (inline256) report.bound('host inline p99 batch 256 / 50 us', inline256, 50, '50 us');
      report.skip('ParameterServer latency and requests in flight', why!);
      return;
    }
    const { server } = opened;
    report.note(`ParameterServer over the host table: tiers ${opened.tiers.join(' -> ')}, opened (import included) in ${opened.openSeconds.toFixed(1)} s`);
    if (usable.includes(256)) await againstGather(ctx, report, (keys, out) => server.lookupSync(HOST_MODEL, HOST_TABLE, keys, out));
    for (const size of usable) {
      const out = new Float32Array(size * table.dim);
      const { p99 } = await percentiles(ctx, report, 'server', size, sizes.samples, stream, (keys) => server.lookup(HOST_MODEL, HOST_TABLE, keys, out));
      if (size === 256) report.bound('server p99 batch 256 / 50 us', p99, 50, '50 us');
    }

    // Requests in flight: a closed loop keeping `level` lookups outstanding, for a request size served
    // inline and for one the server splits across its worker pool.
    for (const batch of sizes.inFlightBatches) {
      const levels: Figure[] = [];
      for (const level of sizes.inFlight) {
        const outs = Array.from({ length: level }, () => new Float32Array(batch * table.dim));
        const requests = Math.max(level * 2, Math.ceil(2 ** 18 / batch));
        const rates: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          let next = 0;
          const t0 = performance.now();
          await Promise.all(outs.map(async (out) => {
            for (let r = next++; r < requests; r = next++) {
              const start = ((round * requests + r) * 7919 * batch) % (stream.length - batch + 1);
              await server.lookup(HOST_MODEL, HOST_TABLE, stream.subarray(start, start + batch), out);
            }
          }));
          rates.push((requests * batch) / ((performance.now() - t0) / 1000));
        }
        const f = report.figure(`server ${level} in flight, batch ${batch}`, 'keys/s', summarize(rates), `${requests} requests per round, ${ROUNDS} rounds`);
        ctx.record('latency', f);
        levels.push(f);
      }
      const peak = levels.reduce((a, b) => (b.median > a.median ? b : a));
      const most = levels[levels.length - 1];
      report.ratio(`${most.name} / peak (${peak.name})`, most, peak, 0.9);
    }
  },
};

const GATHER_ROUNDS = 21;

/**
 * The 256-key target against the machine: ParameterServer.lookupSync (the small-batch path: no promise)
 * and the C gather of the same 256 rows (suite limit's program, one batch at a time, in its own process),
 * interleaved in GATHER_ROUNDS rounds that alternate which side goes first, over the same zipf windows as
 * the other latency figures. Each figure is the median (min, max) of a per-round percentile; the pooled
 * percentiles of all calls are in the notes. The first round of each side is warm-up and not counted.
 */
async function againstGather(ctx: RunContext, report: SuiteReport, lookupSync: (keys: BigInt64Array, out: Float32Array) => unknown): Promise<void> {
  const tool = await gatherTool(ctx);
  if ('missing' in tool) {
    report.skip('lookupSync vs C gather, batch 256', tool.missing);
    return;
  }
  const table = ctx.table();
  const size = 256, stream = table.streams.zipf.keys, starts = stream.length - size + 1;
  const perRound = Math.max(50, Math.min(500, Math.floor(SCALES[ctx.scale].latency.samples / 4)));
  const gather = await tool.latency('zipf');
  const out = new Float32Array(size * table.dim);
  const sides = { server: { p50: [] as number[], p99: [] as number[], all: [] as number[] }, gather: { p50: [] as number[], p99: [] as number[], all: [] as number[] } };
  const record = (side: keyof typeof sides, ns: number[], round: number) => {
    if (round === 0) return;
    const us = Float64Array.from(ns, (t) => t / 1000).sort();
    sides[side].p50.push(quantileSorted(us, 0.5));
    sides[side].p99.push(quantileSorted(us, 0.99));
    sides[side].all.push(...us);
  };
  try {
    let first = 0;
    for (let round = 0; round < GATHER_ROUNDS; round++) {
      const runServer = () => {
        const ns: number[] = [];
        for (let i = first; i < first + perRound; i++) {
          const start = (i * 7919 * size) % starts;
          const keys = stream.subarray(start, start + size);
          const t0 = process.hrtime.bigint();
          lookupSync(keys, out);
          ns.push(Number(process.hrtime.bigint() - t0));
        }
        record('server', ns, round);
      };
      if (round % 2 === 0) runServer();
      record('gather', await gather.gather(first, perRound, size), round);
      if (round % 2 === 1) runServer();
      first += perRound;
    }
  } finally {
    gather.stop();
  }
  const note = `${perRound} calls per round, ${GATHER_ROUNDS - 1} rounds interleaved with the other side (which goes first alternates)`;
  const pooled = (side: keyof typeof sides, q: number) => quantileSorted(Float64Array.from(sides[side].all).sort(), q).toFixed(1);
  const f = (side: keyof typeof sides, label: string) => {
    const p50 = report.figure(`${label} p50 batch 256 (interleaved)`, 'us', summarize(sides[side].p50), note);
    const p99 = report.figure(`${label} p99 batch 256 (interleaved)`, 'us', summarize(sides[side].p99), `${note}; pooled over all calls: p50 ${pooled(side, 0.5)} us, p99 ${pooled(side, 0.99)} us`);
    ctx.record('latency', p50);
    ctx.record('latency', p99);
    return { p50, p99 };
  };
  const server = f('server', 'server lookupSync');
  const c = f('gather', 'C gather of the same rows');
  report.bound('server lookupSync p99 batch 256 (interleaved) / 50 us', server.p99, 50, '50 us');
  report.note(`batch 256, same run, interleaved: server lookupSync / C gather of the same rows = ${(server.p50.median / c.p50.median).toFixed(2)}x at p50, ${(server.p99.median / c.p99.median).toFixed(2)}x at p99 (medians over rounds)`);
}

/** p50 and p99 figures of `label` for batches of `size` keys taken from `stream`, ROUNDS rounds. */
async function percentiles(ctx: RunContext, report: SuiteReport, label: string, size: number, samples: number, stream: BigInt64Array, fn: (keys: BigInt64Array) => unknown) {
  // Fewer calls for big batches: about 2^22 keys per round at most, never fewer than 10 calls.
  const perRound = Math.max(10, Math.min(samples, Math.floor(2 ** 22 / size)));
  const starts = Math.max(1, stream.length - size + 1);
  const lat = await latencyRounds(ROUNDS, perRound, (i) => {
    const start = (i * 7919 * size) % starts;
    return fn(stream.subarray(start, start + size));
  });
  const note = `percentile of ${perRound} calls per round, over ${ROUNDS} rounds`;
  const p50 = report.figure(`${label} p50 batch ${size}`, 'us', lat.p50, note);
  const p99 = report.figure(`${label} p99 batch ${size}`, 'us', lat.p99, note);
  ctx.record('latency', p50);
  ctx.record('latency', p99);
  return { p50, p99 };
}
