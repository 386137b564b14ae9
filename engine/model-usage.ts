/**
 * Operations in flight on one model's tables, so that a model swapped out by a reload (or removed by
 * an unload) is closed only once the lookups that started on it have finished.
 */
export class ModelUsage {
  private active = 0;
  private waiters: (() => void)[] = [];

  /** Counts `work` as in flight until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.active++;
    return work.finally(() => {
      if (--this.active === 0) for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
