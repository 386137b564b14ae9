/**
 * Work taken off the request path (cache insertions after a high-hit-rate request). It runs on the
 * next turn of the event loop, or at the start of the next request on this thread if that comes first:
 * a caller that awaits lookups back to back never yields a turn, and its deferred work must still run.
 * A failure goes to `warn`, since no request is left to fail by then: OpenOptions.warn on the calling
 * thread; in a lookup worker, a message that the pool hands to the same OpenOptions.warn (workerWarning).
 */
export class DeferredWork {
  private queue: (() => void | Promise<unknown>)[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly warn: (line: string) => void) {}

  /** Queues `work` (bound so it can be passed around as a function). */
  readonly add = (work: () => void | Promise<unknown>): void => {
    if (this.closed) return;
    this.queue.push(work);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  };

  /** Runs everything queued so far. */
  drain(): void {
    if (this.queue.length === 0) return;
    const work = this.queue;
    this.queue = [];
    for (const w of work) {
      if (this.closed) return;
      try {
        // An asynchronous L1 (the GPU cache) answers later; its failure is reported the same way.
        const done = w();
        if (done) done.then(undefined, (err) => this.report(err));
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** Drops queued work; later work is ignored (the tiers are being closed). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private report(err: unknown): void {
    this.warn(`hps: a deferred cache insertion failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
