import * as hdr from 'hdr-histogram-js';
import { summarize, type Summary } from './stats.js';

/** Percentiles of `rounds` rounds of `perRound` timed calls each, in microseconds. */
export interface LatencyRounds {
  p50: Summary;
  p99: Summary;
  calls: number;
}

/**
 * Times `perRound` calls of `fn` (call i gets i) per round with the high-resolution clock, recording
 * nanoseconds in an hdr histogram, and summarizes each round's p50 and p99 over the rounds: a figure is
 * then the median (min, max) of a percentile across rounds, which shows how much it moves with noise.
 */
export async function latencyRounds(rounds: number, perRound: number, fn: (i: number) => unknown): Promise<LatencyRounds> {
  const p50: number[] = [];
  const p99: number[] = [];
  let call = 0;
  for (let r = 0; r < rounds; r++) {
    const h = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 6e10, numberOfSignificantValueDigits: 3, useWebAssembly: false });
    for (let i = 0; i < perRound; i++) {
      const t0 = process.hrtime.bigint();
      const result = fn(call++);
      if (result instanceof Promise) await result;
      h.recordValue(Number(process.hrtime.bigint() - t0));
    }
    p50.push(h.getValueAtPercentile(50) / 1000);
    p99.push(h.getValueAtPercentile(99) / 1000);
    h.destroy();
  }
  return { p50: summarize(p50), p99: summarize(p99), calls: call };
}
