import { threadId } from 'node:worker_threads';
import { HpsError } from '../errors.js';
import { instantiateKernels } from '../wasm/loader.js';
import { HEADER_OFFSET, READ_FENCE, Stat, type HostKernels } from '../wasm/hostmap.js';

const LOCK_INDEX = HEADER_OFFSET / 4;

/**
 * One thread's view of one partition: its own kernel instance over the shared memory, a reader slot and
 * a scratch area of `chunkKeys` keys, rows, miss positions and kernel temporaries. Typed-array views are made once: the
 * scratch was allocated before them, and a grown shared memory keeps old views valid.
 */
export class PartitionView {
  readonly memory: WebAssembly.Memory;
  readonly k: HostKernels;
  readonly slot: number;
  /** Byte offsets of the scratch areas. */
  readonly keysAt: number;
  readonly rowsAt: number;
  readonly missAt: number;
  readonly tmpAt: number;
  /** Byte offset of `extraBytes` more (64-aligned) for the owner's use, e.g. the thread's router. */
  readonly extraAt: number;
  readonly i64: BigInt64Array;
  readonly f32: Float32Array;
  readonly u32: Uint32Array;
  private readonly lockWord: Int32Array;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module, chunkKeys: number, rowBytes: number, extraBytes = 0) {
    this.memory = memory;
    this.k = instantiateKernels(memory, module) as HostKernels;
    this.lockWord = new Int32Array(memory.buffer, 0, LOCK_INDEX + 1);
    const slot = this.k.hm_claim(HEADER_OFFSET, threadId + 1);
    if (slot < 0) throw new HpsError('CAPACITY', 'HostArena: all 128 reader slots of a partition are taken (one per attached view); close() views that are done, or releaseThread(threadId) of threads that ended');
    this.slot = slot;
    const own = Math.ceil((chunkKeys * (8 + rowBytes + 4 + 8)) / 64) * 64;
    const bytes = own + extraBytes;
    this.lock();
    let scratch: number;
    try {
      scratch = this.k.hm_scratch(HEADER_OFFSET, slot, bytes) >>> 0;
    } finally {
      this.unlock();
    }
    if (!scratch) {
      this.k.hm_release(HEADER_OFFSET, slot);
      throw new HpsError('CAPACITY', `HostArena: no memory left in a partition for a ${bytes}-byte scratch area (4 GiB per partition)`);
    }
    this.keysAt = scratch;
    this.rowsAt = scratch + chunkKeys * 8;
    this.missAt = this.rowsAt + chunkKeys * rowBytes;
    this.tmpAt = this.missAt + chunkKeys * 4;
    this.extraAt = scratch + own;
    const buffer = memory.buffer;
    this.i64 = new BigInt64Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  /**
   * Looks up the `n` keys at byte offset `keys` into rows at `out` (row order[i] for key i when `order`
   * is not 0, else row i); miss positions (+ missBase) at `miss`; returns the number of misses.
   */
  gather(keys: number, n: number, out: number, order: number, miss: number, missBase: number): number {
    return this.k.hm_gather(HEADER_OFFSET, this.slot, keys, n, out, order, miss, missBase, this.tmpAt, READ_FENCE);
  }

  /** Takes the partition's writer lock (spins briefly, then waits for the holder's notify). */
  lock(): void {
    const w = this.lockWord;
    for (let spins = 0; Atomics.compareExchange(w, LOCK_INDEX, 0, 1) !== 0; spins++) {
      if (spins > 64) Atomics.wait(w, LOCK_INDEX, 1, 1);
    }
  }

  unlock(): void {
    Atomics.store(this.lockWord, LOCK_INDEX, 0);
    Atomics.notify(this.lockWord, LOCK_INDEX, 1);
  }

  stat(which: Stat): number {
    return this.k.hm_stat(HEADER_OFFSET, which);
  }

  release(): void {
    this.k.hm_release(HEADER_OFFSET, this.slot);
  }
}
