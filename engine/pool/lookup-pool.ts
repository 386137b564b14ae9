import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { HpsError } from '../errors.js';
import { Semaphore } from './semaphore.js';
import type { RangeTask, RangeResult, WorkerSetup } from './protocol.js';

const workerFile = new URL('../../workers/lookup-worker.js', import.meta.url).href;

export interface LookupPoolOptions {
  /** Worker threads; defaults to the machine's cores. */
  threads?: number;
  /** Tasks allowed in flight per thread before callers wait (backpressure). */
  tasksPerThread?: number;
  setup: WorkerSetup;
}

/**
 * The piscina pool of long-lived lookup workers. A task is a range of a request's unique keys in shared
 * buffers, never one key. Callers beyond `threads * tasksPerThread` tasks in flight wait for a permit,
 * so the queue stays bounded. A worker that dies fails its task with a WORKER_DIED error; piscina starts
 * a replacement and later tasks succeed.
 */
export class LookupPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private readonly permits: Semaphore;
  private closed = false;

  constructor(options: LookupPoolOptions) {
    this.threads = options.threads ?? availableParallelism();
    const inFlight = this.threads * (options.tasksPerThread ?? 2);
    this.permits = new Semaphore(inFlight);
    this.piscina = new Piscina({
      filename: workerFile,
      // Threads start with the first large request, not at open, and then stay.
      minThreads: 0,
      maxThreads: this.threads,
      // An idle timeout of 0 restarts threads; these hold wasm instances and LMDB handles, so keep them.
      idleTimeout: 2 ** 31 - 1,
      maxQueue: inFlight,
      workerData: options.setup,
    });
    // A worker that dies fails its task (see run); the pool-level event needs a listener or it throws.
    this.piscina.on('error', () => {});
  }

  /** Runs one range task, waiting for a permit when the pool is saturated. */
  async run(task: RangeTask): Promise<RangeResult> {
    if (this.closed) throw new HpsError('CLOSED', 'lookup pool: the pool is closed');
    await this.permits.acquire();
    try {
      return (await this.piscina.run(task)) as RangeResult;
    } catch (err) {
      if (err instanceof HpsError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new HpsError('WORKER_DIED', `lookup pool: the worker serving keys [${task.offset}, ${task.offset + task.count}) of table ${task.table} failed: ${message}; the pool replaces it and later requests are served`, { cause: err });
    } finally {
      this.permits.release();
    }
  }

  /** Worker threads currently alive (tests kill one to check recovery). */
  get workers(): readonly import('node:worker_threads').Worker[] {
    return this.piscina.threads;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.permits.waiting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.destroy();
  }
}
