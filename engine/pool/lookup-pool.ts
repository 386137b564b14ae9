import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { HpsError } from '../errors.js';
import { Semaphore } from './semaphore.js';
import { isWorkerWarning, type RangeTask, type RangeResult, type WorkerSetup } from './protocol.js';

const workerFile = new URL('../../workers/lookup-worker.js', import.meta.url).href;

export interface LookupPoolOptions {
  /** Worker threads; defaults to the machine's cores. */
  threads?: number;
  /** Tasks allowed in flight per thread before callers wait (backpressure). */
  tasksPerThread?: number;
  setup: WorkerSetup;
  /**
   * Called with a worker's threadId once it is gone (crashed, terminated or shut down), so that the
   * shared tiers can free what it held (its scratch areas, a writer lock it died holding).
   */
  onWorkerExit?: (threadId: number) => void;
  /** Where workers' warnings go (their deferred cache insertions that failed): OpenOptions.warn. Default process.emitWarning. */
  warn?: (line: string) => void;
}

/**
 * The piscina pool of long-lived lookup workers. A task is a range of a request's unique keys in shared
 * buffers, never one key. Callers beyond `threads * tasksPerThread` tasks in flight wait for a permit,
 * so the queue stays bounded. A worker that dies fails its task with a WORKER_DIED error; piscina starts
 * a replacement and later tasks succeed. A worker that dies before it is ready has no task yet: piscina
 * keeps the tasks queued and starts no replacement until another task comes, which, with every request
 * waiting on a queued task, never happens. So once no thread is left, the queued tasks fail with
 * WORKER_DIED too, and the next task starts a fresh worker.
 */
export class LookupPool {
  readonly threads: number;
  private readonly piscina: Piscina;
  private readonly permits: Semaphore;
  private readonly requests: Semaphore;
  private closed = false;
  private readonly onExit: ((threadId: number) => void) | null;
  /** Ids of threads started and not yet reported gone. */
  private readonly running = new Set<number>();
  /** One abort handle per task posted and not yet settled. */
  private readonly pending = new Set<AbortController>();

  constructor(options: LookupPoolOptions) {
    this.threads = options.threads ?? availableParallelism();
    const inFlight = this.threads * (options.tasksPerThread ?? 2);
    this.permits = new Semaphore(inFlight);
    this.requests = new Semaphore(this.threads + 1);
    this.piscina = new Piscina({
      filename: workerFile,
      // Threads start with the first large request, not at open, and then stay.
      minThreads: 0,
      maxThreads: this.threads,
      // An idle timeout of 0 restarts threads; these hold wasm instances and LMDB handles, so keep them.
      idleTimeout: 2 ** 31 - 1,
      maxQueue: inFlight,
      // Workers wait for tasks without blocking their event loop, so that timers run between tasks:
      // lmdb-js ends each read snapshot on a timer, and one never ended pins its pages (data.mdb grows
      // with every import) and, were it not renewed per read (LmdbStore.get), serves old rows.
      atomics: 'async',
      workerData: options.setup,
    });
    // A worker that dies fails its task (see run); the pool-level event needs a listener or it throws.
    this.piscina.on('error', () => {});
    const warn = options.warn ?? ((line: string) => process.emitWarning(line));
    this.piscina.on('message', (message: unknown) => {
      if (isWorkerWarning(message)) warn(message.hpsWarning);
    });
    this.onExit = options.onWorkerExit ?? null;
    this.piscina.on('workerCreate', (worker: { id: number }) => this.running.add(worker.id));
    this.piscina.on('workerDestroy', () => {
      this.reportExits();
      // After piscina has settled the dead worker's own task (its exit handler runs first).
      setImmediate(() => this.failOrphanedTasks());
    });
  }

  /**
   * Admits one split request, waiting while `threads + 1` are being served (the workers and the
   * calling thread each serve one range of each). Requests beyond that wait here, before they take
   * any buffer, so memory stays bounded however many are in flight. Call `leave()` once done.
   */
  enter(): Promise<void> {
    if (this.closed) return Promise.reject(new HpsError('CLOSED', 'lookup pool: the pool is closed'));
    return this.requests.tryAcquire() ? Promise.resolve() : this.requests.acquire();
  }

  leave(): void {
    this.requests.release();
  }

  /**
   * Runs one range task, waiting for a permit when the pool is saturated. With a permit free, the task
   * is posted before this returns, so the caller can do its own share of the request meanwhile.
   */
  async run(task: RangeTask): Promise<RangeResult> {
    if (this.closed) throw new HpsError('CLOSED', 'lookup pool: the pool is closed');
    if (!this.permits.tryAcquire()) await this.permits.acquire();
    const abort = new AbortController();
    this.pending.add(abort);
    try {
      return (await this.piscina.run(task, { signal: abort.signal })) as RangeResult;
    } catch (err) {
      this.reportExits();
      if (err instanceof HpsError) throw err;
      if (abort.signal.aborted) {
        throw new HpsError('WORKER_DIED', `lookup pool: the worker that was to serve keys [${task.offset}, ${task.offset + task.count}) of table ${task.table} exited before it was ready, and no worker was left to serve them; the next request starts a new one`, { cause: err });
      }
      const message = err instanceof Error ? err.message : String(err);
      throw new HpsError('WORKER_DIED', `lookup pool: the worker serving keys [${task.offset}, ${task.offset + task.count}) of table ${task.table} failed: ${message}; the pool replaces it and later requests are served`, { cause: err });
    } finally {
      this.pending.delete(abort);
      this.permits.release();
    }
  }

  /** With no thread left, nothing would ever take the queued tasks: fail them (see the class comment). */
  private failOrphanedTasks(): void {
    if (this.closed || this.piscina.threads.length > 0) return;
    for (const abort of this.pending) abort.abort();
  }

  /**
   * Reports threads that are gone. A stopped thread's id reads -1, so ids are remembered while threads
   * run, and any remembered id that no live thread has any more is reported, once.
   */
  private reportExits(): void {
    const live = new Set(this.piscina.threads.map((t) => t.threadId));
    for (const id of this.running) {
      if (live.has(id)) continue;
      this.running.delete(id);
      this.onExit?.(id);
    }
  }

  /** Worker threads currently alive (tests kill one to check recovery). */
  get workers(): readonly import('node:worker_threads').Worker[] {
    return this.piscina.threads;
  }

  /** Callers waiting for a permit (tasks) or for admission (split requests). */
  get waiting(): number {
    return this.permits.waiting + this.requests.waiting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.destroy();
  }
}
