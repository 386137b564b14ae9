import { HpsError } from '../errors.js';
import { instantiateKernels, type WasmKernels } from '../wasm/loader.js';
import { KERNEL_RESERVED_BYTES, MAX_MEMORY_PAGES, WASM_PAGE_BYTES, newKernelMemory } from '../wasm/memory.js';

/**
 * The ascending order of a batch's keys (a radix sort in wasm, pl_key_order), so that L3 reads a batch
 * in key order: consecutive B-tree descents then share their upper pages, which measured about 1.3x
 * faster lmdb-js reads than random order for scattered keys of a 2^21-row table. One per thread, on a
 * kernel memory of its own that grows to the largest batch.
 */
class KeyOrder {
  private readonly memory = newKernelMemory(1 << 20);
  private readonly kernels: WasmKernels = instantiateKernels(this.memory);

  /** Positions of `keys` in ascending (signed 64-bit) key order; ties keep their order. */
  order(keys: BigInt64Array): Uint32Array {
    const n = keys.length;
    const keysAt = KERNEL_RESERVED_BYTES, orderAt = keysAt + n * 8, tmpAt = orderAt + n * 4, countsAt = tmpAt + n * 4;
    const end = countsAt + 1024;
    if (end > MAX_MEMORY_PAGES * WASM_PAGE_BYTES) throw new HpsError('CAPACITY', `key order: ${n} keys need ${end} bytes of kernel memory, more than a wasm memory holds`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / WASM_PAGE_BYTES));
    const buf = this.memory.buffer;
    new BigInt64Array(buf, keysAt, n).set(keys);
    this.kernels.pl_key_order(keysAt, n, orderAt, tmpAt, countsAt);
    return new Uint32Array(buf, orderAt, n).slice();
  }
}

let perThread: KeyOrder | undefined;

/** Positions of `keys` in ascending key order (this thread's KeyOrder). */
export function keyOrder(keys: BigInt64Array): Uint32Array {
  perThread ??= new KeyOrder();
  return perThread.order(keys);
}
