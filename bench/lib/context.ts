import type { Figure, Scale, SuiteReport } from './results.js';
import type { MeasureOptions } from './measure.js';
import { buildHostTable, type HostTable, type HostTableSizes } from './host-table.js';

/** What every suite of one run shares: the scale, sampling options, the host table and the figures so far. */
export class RunContext {
  private hostTable?: HostTable;
  /** Every figure of this run by `<suite>/<figure name>`, so a ratio may use a figure of an earlier suite. */
  readonly figures = new Map<string, Figure>();

  constructor(readonly scale: Scale, readonly measure: MeasureOptions, readonly hostSizes: HostTableSizes) {}

  get quick(): boolean {
    return this.scale !== 'full';
  }

  /** The host table, built on first use and kept for the run. */
  table(): HostTable {
    if (!this.hostTable) {
      const t0 = Date.now();
      this.hostTable = buildHostTable(this.hostSizes);
      console.log(`  host table: ${this.hostSizes.keys} keys x dim ${this.hostSizes.dim} built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    return this.hostTable;
  }

  private readonly resources = new Map<string, Promise<unknown>>();

  /** A resource built once per run and shared by the suites that need it (e.g. the loaded host arena). */
  shared<T>(name: string, build: () => Promise<T>): Promise<T> {
    if (!this.resources.has(name)) this.resources.set(name, build());
    return this.resources.get(name) as Promise<T>;
  }

  private readonly closers: (() => Promise<void> | void)[] = [];

  /** Registers cleanup for a shared resource; the runner calls close() after the last suite. */
  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) await fn();
  }

  record(suite: string, figure: Figure): void {
    this.figures.set(`${suite}/${figure.name}`, figure);
  }

  /**
   * A figure of an earlier suite of this run, copied into `report` (with a note saying where it came
   * from) so that each result file holds every figure its ratios use. Undefined when that suite did not run.
   */
  borrow(report: SuiteReport, suite: string, name: string): Figure | undefined {
    const f = this.figures.get(`${suite}/${name}`);
    if (!f) return undefined;
    return report.figure(f.name, f.unit, f, `measured by suite ${suite} in this run`);
  }
}
