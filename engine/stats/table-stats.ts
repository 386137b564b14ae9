import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { addCounts, emptyCounts, type TierCounts } from '../pipeline/counts.js';

/** Latency stages recorded per table, in microseconds. */
export const STAGES = ['lookup', 'l1', 'l2', 'l3'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageLatency {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface TierStats {
  hits: number;
  /** Hits / keys asked of this tier. */
  hitRate: number;
}

export interface TableStatsSnapshot {
  lookups: number;
  /** Keys asked for, repeats included, and distinct keys per request added up. */
  keys: number;
  uniqueKeys: number;
  l1: TierStats;
  l2: TierStats;
  l3: TierStats;
  /** Keys found in no tier. */
  defaults: number;
  latency: Record<Stage, StageLatency>;
}

/** Per-table counters and latency histograms (hdr-histogram-js), kept by the calling thread. */
export class TableStats {
  private readonly totals: TierCounts = emptyCounts();
  private lookups = 0;
  private keys = 0;
  private readonly histograms = new Map<Stage, Histogram>(
    STAGES.map((s) => [s, hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 })]),
  );

  /** Adds one request: its tier counts (time per tier in ns) and its total time in ns. */
  record(keys: number, counts: TierCounts, totalNs: number): void {
    this.lookups++;
    this.keys += keys;
    addCounts(this.totals, counts);
    this.sample('lookup', totalNs);
    if (counts.l1Ns > 0) this.sample('l1', counts.l1Ns);
    if (counts.l2Ns > 0) this.sample('l2', counts.l2Ns);
    if (counts.l3Ns > 0) this.sample('l3', counts.l3Ns);
  }

  snapshot(): TableStatsSnapshot {
    const t = this.totals;
    const askedL2 = t.unique - t.l1Hits;
    const askedL3 = askedL2 - t.l2Hits;
    const latency = Object.fromEntries(STAGES.map((s) => {
      const h = this.histograms.get(s)!;
      return [s, { count: h.totalCount, p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), maxUs: h.maxValue }];
    })) as Record<Stage, StageLatency>;
    return {
      lookups: this.lookups,
      keys: this.keys,
      uniqueKeys: t.unique,
      l1: { hits: t.l1Hits, hitRate: rate(t.l1Hits, t.unique) },
      l2: { hits: t.l2Hits, hitRate: rate(t.l2Hits, askedL2) },
      l3: { hits: t.l3Hits, hitRate: rate(t.l3Hits, askedL3) },
      defaults: t.defaults,
      latency,
    };
  }

  private sample(stage: Stage, ns: number): void {
    this.histograms.get(stage)!.recordValue(Math.max(1, Math.round(ns / 1000)));
  }
}

function rate(hits: number, asked: number): number {
  return asked > 0 ? hits / asked : 0;
}
