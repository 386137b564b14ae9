import Benchmark from 'benchmark';
import { summarize, type Summary } from './stats.js';

/** How long benchmark.js samples each figure; shrunk in quick mode. */
export interface MeasureOptions {
  /** Seconds of sampling per figure (benchmark.js `maxTime`). */
  maxTime: number;
  /** Fewest samples (benchmark.js `minSamples`). */
  minSamples: number;
}

/** benchmark.js's samples (seconds per call) as rates of `itemsPerCall` items per second. */
function sampleRates(bench: Benchmark, itemsPerCall: number): number[] {
  if (bench.error) throw bench.error;
  return bench.stats.sample.map((seconds) => itemsPerCall / seconds);
}

/**
 * Runs `fn` under benchmark.js on this thread and returns items per second (median, min, max over
 * benchmark.js's samples). `fn` handles `itemsPerCall` items (e.g. keys of one batch) per call.
 */
export function rateSync(name: string, fn: () => void, itemsPerCall: number, opts: MeasureOptions): Summary {
  return summarize(samplesSync(name, fn, itemsPerCall, opts));
}

/** As rateSync, returning benchmark.js's samples as rates (to merge samples taken in several slices). */
export function samplesSync(name: string, fn: () => void, itemsPerCall: number, opts: MeasureOptions): number[] {
  const bench = new Benchmark(name, fn, { maxTime: opts.maxTime, minSamples: opts.minSamples, initCount: 1 });
  bench.run({ async: false });
  return sampleRates(bench, itemsPerCall);
}

/** As rateSync for work that completes asynchronously (a deferred benchmark.js test). */
export async function rateAsync(name: string, fn: () => Promise<unknown>, itemsPerCall: number, opts: MeasureOptions): Promise<Summary> {
  return summarize(await samplesAsync(name, fn, itemsPerCall, opts));
}

/** As rateAsync, returning benchmark.js's samples as rates. */
export function samplesAsync(name: string, fn: () => Promise<unknown>, itemsPerCall: number, opts: MeasureOptions): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    const bench = new Benchmark(name, {
      defer: true,
      maxTime: opts.maxTime,
      minSamples: opts.minSamples,
      initCount: 1,
      fn(deferred: Benchmark.Deferred) {
        fn().then(() => deferred.resolve(), (err) => {
          failure = err;
          bench.abort();
          deferred.resolve();
        });
      },
    } as Benchmark.Options);
    bench.on('complete', () => {
      if (failure !== undefined) reject(failure);
      else {
        try {
          resolve(sampleRates(bench, itemsPerCall));
        } catch (err) {
          reject(err);
        }
      }
    });
    bench.run({ async: true });
  });
}

/** Runs `fn` `count` times, timing each run with the high-resolution clock; returns seconds per run. */
export async function timeRuns(count: number, fn: () => Promise<unknown> | unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return out;
}
