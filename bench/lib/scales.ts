import type { HostTableSizes } from './host-table.js';
import type { MeasureOptions } from './measure.js';
import type { Scale } from './results.js';

/**
 * Sizes of each scale. `full` is the workloads' own; `quick` is the CI-sized run (a few minutes on 2 cores);
 * `smoke` is tiny, for the suite's own tests. Every result file says which scale produced it.
 */
export interface ScaleSizes {
  measure: MeasureOptions;
  host: HostTableSizes;
  /** tiered: table rows x dim; L2 and L1 capacities are fractions of the rows. */
  tiered: { keys: number; dim: number; batch: number; batches: number };
  /** memory: keys x dim loaded into the host tier. */
  memory: { keys: number; dim: number };
  /** import: HugeCTR folder of keys x dim, and runs of each side. */
  import: { keys: number; dim: number; runs: number };
  /** latency: batch sizes, histogram samples per size, in-flight levels and request sizes. */
  latency: { batchSizes: number[]; samples: number; inFlight: number[]; inFlightBatches: number[] };
  /** server: request sizes, requests in flight, requests per round (at most), and an overload level. */
  server: { batches: number[]; inFlight: number[]; requests: number; overload: number };
  /**
   * redis: table rows x dim, lookup batch, the tier's partitions, interleaved rounds of the lookup sides;
   * update-lag rates (keys/s), seconds of publishing per rate and round, and rounds.
   */
  redis: { keys: number; dim: number; batch: number; partitions: number; rounds: number; lagRates: number[]; lagSeconds: number; lagRounds: number };
}

export const SCALES: Record<Scale, ScaleSizes> = {
  full: {
    measure: { maxTime: 3, minSamples: 10 },
    host: { keys: 2 ** 21, dim: 128, batch: 16384, batches: 64 },
    tiered: { keys: 2 ** 22, dim: 64, batch: 16384, batches: 64 },
    memory: { keys: 2 ** 22, dim: 16 },
    import: { keys: 2 ** 22, dim: 64, runs: 3 },
    latency: { batchSizes: [1, 64, 256, 1024, 16384, 262144], samples: 2000, inFlight: [1, 2, 4, 8, 16, 32, 64], inFlightBatches: [1024, 16384] },
    server: { batches: [16, 16384], inFlight: [1, 8, 64], requests: 4000, overload: 256 },
    redis: { keys: 2 ** 18, dim: 32, batch: 16384, partitions: 8, rounds: 5, lagRates: [1000, 10000], lagSeconds: 3, lagRounds: 4 },
  },
  quick: {
    measure: { maxTime: 0.5, minSamples: 5 },
    host: { keys: 2 ** 18, dim: 128, batch: 16384, batches: 16 },
    tiered: { keys: 2 ** 18, dim: 64, batch: 16384, batches: 16 },
    memory: { keys: 2 ** 20, dim: 16 },
    import: { keys: 2 ** 18, dim: 64, runs: 2 },
    latency: { batchSizes: [1, 64, 256, 1024, 16384, 262144], samples: 300, inFlight: [1, 4, 16, 64], inFlightBatches: [1024, 16384] },
    server: { batches: [16, 16384], inFlight: [1, 8, 64], requests: 1000, overload: 256 },
    redis: { keys: 2 ** 16, dim: 32, batch: 16384, partitions: 8, rounds: 2, lagRates: [1000, 10000], lagSeconds: 1, lagRounds: 2 },
  },
  smoke: {
    measure: { maxTime: 0.02, minSamples: 3 },
    host: { keys: 2 ** 12, dim: 16, batch: 256, batches: 4 },
    tiered: { keys: 2 ** 12, dim: 16, batch: 256, batches: 4 },
    memory: { keys: 2 ** 12, dim: 16 },
    import: { keys: 2 ** 12, dim: 16, runs: 1 },
    latency: { batchSizes: [1, 64, 256], samples: 20, inFlight: [1, 4], inFlightBatches: [64] },
    server: { batches: [16, 256], inFlight: [1, 4], requests: 40, overload: 16 },
    redis: { keys: 2 ** 12, dim: 16, batch: 256, partitions: 4, rounds: 2, lagRates: [1000, 10000], lagSeconds: 0.2, lagRounds: 1 },
  },
};
