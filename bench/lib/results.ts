import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Machine } from './machine.js';
import type { Summary } from './stats.js';

/**
 * The shape of bench/results/<suite>.json (documented in docs/benchmarks.md). A figure is a measured
 * quantity with its samples summarized; a ratio divides the medians of two figures of the same run and
 * is checked against its target; a skip says which workload did not run and why.
 */
const summaryShape = { median: z.number(), min: z.number(), max: z.number(), samples: z.number().int().positive() };

export const figureSchema = z.strictObject({
  name: z.string().min(1),
  unit: z.string().min(1),
  ...summaryShape,
  note: z.string().optional(),
});

export const ratioSchema = z.strictObject({
  name: z.string().min(1),
  numerator: z.string(),
  denominator: z.string(),
  value: z.number(),
  target: z.number(),
  /** `>=`: the ratio must reach the target; `<=`: it must stay at or below it. */
  direction: z.enum(['>=', '<=']),
  met: z.boolean(),
});

export const skipSchema = z.strictObject({ what: z.string().min(1), why: z.string().min(1) });

export const machineSchema = z.strictObject({
  cpu: z.string(),
  cores: z.number().int().positive(),
  memoryBytes: z.number().positive(),
  platform: z.string(),
  node: z.string(),
});

export const suiteResultSchema = z.strictObject({
  suite: z.string().min(1),
  date: z.string().datetime(),
  scale: z.enum(['full', 'quick', 'smoke']),
  machine: machineSchema,
  /** The workload's sizes as run (shrunk in quick mode), e.g. keys, dim, batch. */
  sizes: z.record(z.string(), z.union([z.number(), z.string()])),
  figures: z.array(figureSchema),
  ratios: z.array(ratioSchema),
  skipped: z.array(skipSchema),
  notes: z.array(z.string()),
});

export type Figure = z.infer<typeof figureSchema>;
export type Ratio = z.infer<typeof ratioSchema>;
export type Skip = z.infer<typeof skipSchema>;
export type SuiteResult = z.infer<typeof suiteResultSchema>;
export type Scale = SuiteResult['scale'];

/** Collects the figures, ratios, skips and notes of one suite as it runs. */
export class SuiteReport {
  readonly figures: Figure[] = [];
  readonly ratios: Ratio[] = [];
  readonly skipped: Skip[] = [];
  readonly notes: string[] = [];
  sizes: Record<string, number | string> = {};

  constructor(readonly suite: string, readonly scale: Scale) {}

  figure(name: string, unit: string, summary: Summary, note?: string): Figure {
    const f: Figure = { name, unit, ...summary, ...(note ? { note } : {}) };
    const at = this.figures.findIndex((x) => x.name === name);
    if (at >= 0) this.figures[at] = f;
    else this.figures.push(f);
    return f;
  }

  /** Adds median(numerator) / median(denominator) checked against `target`. */
  ratio(name: string, numerator: Figure, denominator: Figure, target: number, direction: '>=' | '<=' = '>='): Ratio {
    const value = numerator.median / denominator.median;
    const r: Ratio = {
      name, numerator: numerator.name, denominator: denominator.name, value, target, direction,
      met: direction === '>=' ? value >= target : value <= target,
    };
    this.ratios.push(r);
    return r;
  }

  /**
   * An absolute target (the latency bound) as a ratio: median(figure) / limit, which must stay at
   * or below 1 (`<=`) or reach it (`>=`).
   */
  bound(name: string, figure: Figure, limit: number, limitName: string, direction: '>=' | '<=' = '<='): Ratio {
    const value = figure.median / limit;
    const r: Ratio = {
      name, numerator: figure.name, denominator: limitName, value, target: 1, direction,
      met: direction === '>=' ? value >= 1 : value <= 1,
    };
    this.ratios.push(r);
    return r;
  }

  skip(what: string, why: string): void {
    this.skipped.push({ what, why });
    console.log(`  skipped ${what}: ${why}`);
  }

  note(text: string): void {
    this.notes.push(text);
    console.log(`  note: ${text}`);
  }

  result(machine: Machine): SuiteResult {
    return {
      suite: this.suite, date: new Date().toISOString(), scale: this.scale, machine, sizes: this.sizes,
      figures: this.figures, ratios: this.ratios, skipped: this.skipped, notes: this.notes,
    };
  }
}

/** Validates and writes `<dir>/<suite>.json`; returns the path. */
export function writeResult(dir: string, result: SuiteResult): string {
  const checked = suiteResultSchema.parse(result);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${result.suite}.json`);
  writeFileSync(path, JSON.stringify(checked, null, 2) + '\n');
  return path;
}
