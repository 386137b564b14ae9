import type { RunContext } from './context.js';
import type { SuiteReport } from './results.js';

/** One benchmark workload (docs/benchmarks.md). `needs` are suites whose figures its ratios use; the runner runs them first. */
export interface Suite {
  name: string;
  description: string;
  needs: string[];
  run(ctx: RunContext, report: SuiteReport): Promise<void>;
}
