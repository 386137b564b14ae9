import { SCALES } from '../lib/scales.js';
import { latencyRounds } from '../lib/latency.js';
import { loadedArena } from './host.js';
import type { Suite } from '../lib/suite.js';

const ROUNDS = 5;

/**
 * Latency per batch on the host table: p50 and p99 of HostArena.lookup served inline (on the calling
 * thread) for each batch size of BENCH.md; then throughput with 1 to 64 requests in flight through the
 * ParameterServer's worker pool.
 */
export const latencySuite: Suite = {
  name: 'latency',
  description: 'p50/p99 per batch size served inline; throughput with 1..64 requests in flight',
  needs: [],
  async run(ctx, report) {
    const sizes = SCALES[ctx.scale].latency;
    const table = ctx.table();
    report.sizes = { keys: table.keys, dim: table.dim, batchSizes: sizes.batchSizes.join(' '), rounds: ROUNDS, inFlight: sizes.inFlight.join(' '), inFlightBatch: sizes.inFlightBatch };
    const loaded = await loadedArena(ctx);
    if ('missing' in loaded) {
      report.skip('latency', loaded.missing);
      return;
    }
    const { arena } = loaded;
    const stream = table.streams.zipf.keys;
    for (const size of sizes.batchSizes) {
      if (size > stream.length) {
        report.skip(`batch ${size}`, `the query stream holds ${stream.length} keys at this scale`);
        continue;
      }
      // Fewer calls for big batches: about 2^22 keys per round at most, never fewer than 10 calls.
      const perRound = Math.max(10, Math.min(sizes.samples, Math.floor(2 ** 22 / size)));
      const out = new Float32Array(size * table.dim);
      const starts = Math.max(1, stream.length - size + 1);
      const lat = await latencyRounds(ROUNDS, perRound, (i) => {
        const start = (i * 7919 * size) % starts;
        const missing = arena.lookup(stream.subarray(start, start + size), out);
        if (missing.length) throw new Error(`latency: ${missing.length} keys missing; every key is resident`);
      });
      const note = `p of ${perRound} calls per round, over ${ROUNDS} rounds`;
      ctx.record('latency', report.figure(`host inline p50 batch ${size}`, 'us', lat.p50, note));
      const p99 = report.figure(`host inline p99 batch ${size}`, 'us', lat.p99, note);
      ctx.record('latency', p99);
      if (size === 256) report.bound('host inline p99 batch 256 / 50 us', p99, 50, '50 us');
    }
    report.skip('requests in flight', 'needs the ParameterServer worker pool (engine/parameter-server.ts with workers), not wired yet');
  },
};
