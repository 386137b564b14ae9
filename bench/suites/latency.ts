import { SCALES } from '../lib/scales.js';
import { latencyRounds } from '../lib/latency.js';
import { loadedArena } from './host.js';
import { hostServer, HOST_MODEL, HOST_TABLE } from '../lib/host-server.js';
import { summarize } from '../lib/stats.js';
import type { RunContext } from '../lib/context.js';
import type { Figure, SuiteReport } from '../lib/results.js';
import type { Suite } from '../lib/suite.js';

const ROUNDS = 5;

/**
 * Latency per batch on the host table: p50 and p99 of HostArena.lookup inline (on the calling thread)
 * for each batch size of BENCH.md, then of ParameterServer.lookup over the same table (default config:
 * inline for small batches, the worker pool for big ones; its 256-key p99 is the one checked against
 * BENCH.md's 50 us, the arena's when no server runs yet); then the server's throughput with 1 to 64
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
