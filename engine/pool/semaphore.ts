/**
 * A counting semaphore with a FIFO of waiters: the pool's backpressure. Callers beyond the permits wait
 * for a slot instead of growing an unbounded task queue, so that under load latency grows, not memory.
 */
export class Semaphore {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly permits: number) {
    this.free = permits;
  }

  /** Takes a permit if one is free now; call `release()` exactly once afterwards if it returned true. */
  tryAcquire(): boolean {
    if (this.free === 0) return false;
    this.free--;
    return true;
  }

  /** Resolves once a permit is held; call `release()` exactly once afterwards. */
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }

  /** Callers waiting for a permit now. */
  get waiting(): number {
    return this.waiters.length;
  }
}
