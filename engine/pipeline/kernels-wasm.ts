import { assert, HpsError } from '../errors.js';
import { instantiateKernels, type WasmKernels } from '../wasm/loader.js';
import { newKernelMemory, KERNEL_RESERVED_BYTES, MAX_MEMORY_PAGES, WASM_PAGE_BYTES } from '../wasm/memory.js';

/** How a pooled lookup combines the rows of one CSR row (HPS / TensorFlow semantics). */
export type Combiner = 'sum' | 'mean' | 'sqrtn';

export interface DedupResult {
  /** The distinct keys, in order of first occurrence. */
  unique: BigInt64Array;
  /** For every input position i, the index of keys[i] in `unique`. */
  inverse: Uint32Array;
}

const COMBINER_CODE: Record<Combiner, number> = { sum: 0, mean: 1, sqrtn: 2 };
const OK = 0xffffffff;
const MAX_BYTES = MAX_MEMORY_PAGES * WASM_PAGE_BYTES;

/**
 * The lookup pipeline's wasm kernels (wasm/pipeline.c) on a memory of their own: one instance per
 * thread. Inputs are copied into the memory in bulk, the kernel runs with no JavaScript per key, and
 * results are copied out into new arrays or the caller's `out`. The memory grows to the largest call.
 * Internal: callers pass what ParameterServer checked at the public boundary (normalized keys, CSR
 * offsets, weights, outputs), so a bad argument here is a bug, asserted, not an HpsError.
 */
export class PipelineKernels {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: WasmKernels;
  private top = KERNEL_RESERVED_BYTES;
  /** The regions of the scatter begun by stageRows. */
  private staged: { rowsAt: number; inverseAt: number; outAt: number; uniqueCount: number; n: number; dim: number } | null = null;

  constructor() {
    this.memory = newKernelMemory(4 << 20);
    this.kernels = instantiateKernels(this.memory);
  }

  /** Distinct keys in order of first occurrence, and the inverse map from positions to them. */
  dedup(keys: BigInt64Array): DedupResult {
    checkKeys(keys, 'keys');
    const n = keys.length;
    let size = 16;
    while (size < 2 * n) size *= 2;
    this.begin();
    const keysAt = this.take(n * 8), uniqueAt = this.take(n * 8), inverseAt = this.take(n * 4);
    const idxAt = this.take(size * 4), tableKeysAt = this.take(size * 8);
    this.ensure();
    const buf = this.memory.buffer;
    new BigInt64Array(buf, keysAt, n).set(keys);
    const count = this.kernels.pl_dedup(keysAt, n, uniqueAt, inverseAt, idxAt, tableKeysAt, size - 1);
    return {
      unique: new BigInt64Array(buf, uniqueAt, count).slice(),
      inverse: new Uint32Array(buf, inverseAt, n).slice(),
    };
  }

  /**
   * Row i of the result = row inverse[i] of `uniqueRows` (the unique keys' rows back in request order,
   * repeats included). Writes `out` (at least inverse.length x dim floats) when given, else a new array.
   */
  scatter(uniqueRows: Float32Array, inverse: Uint32Array, dim: number, out?: Float32Array): Float32Array {
    const uniqueCount = checkRows(uniqueRows, dim);
    checkInverseType(inverse);
    const n = inverse.length;
    const target = outFor(out, n * dim, 'inverse.length');
    this.begin();
    const rowsAt = this.take(uniqueRows.length * 4), inverseAt = this.take(n * 4), outAt = this.take(n * dim * 4);
    this.ensure();
    const buf = this.memory.buffer;
    new Float32Array(buf, rowsAt, uniqueRows.length).set(uniqueRows);
    new Uint32Array(buf, inverseAt, n).set(inverse);
    this.checkInverse(inverseAt, inverse, uniqueCount);
    this.kernels.pl_scatter(rowsAt, inverseAt, n, dim, outAt);
    target.set(new Float32Array(buf, outAt, n * dim));
    return target;
  }

  /**
   * The first half of a scatter with one copy less: a view of kernel memory for `uniqueCount` rows of
   * `dim` that the caller fills (the tiers write the distinct rows straight into it), then
   * `scatterStaged` puts them in request order. The view is valid until the next call on this object.
   */
  stageRows(uniqueCount: number, n: number, dim: number): Float32Array {
    this.begin();
    const rowsAt = this.take(uniqueCount * dim * 4), inverseAt = this.take(n * 4), outAt = this.take(n * dim * 4);
    this.ensure();
    this.staged = { rowsAt, inverseAt, outAt, uniqueCount, n, dim };
    return new Float32Array(this.memory.buffer, rowsAt, uniqueCount * dim);
  }

  /** Writes the rows staged by `stageRows` into `out` (n x dim) in request order, by `inverse` (from dedup). */
  scatterStaged(inverse: Uint32Array, out: Float32Array): void {
    const st = this.staged;
    assert(st !== null && inverse.length === st.n, `scatterStaged: expected the inverse map of the ${st?.n ?? 0} keys staged by stageRows, got ${inverse.length}`);
    this.staged = null;
    const buf = this.memory.buffer;
    new Uint32Array(buf, st.inverseAt, st.n).set(inverse);
    this.checkInverse(st.inverseAt, inverse, st.uniqueCount);
    this.kernels.pl_scatter(st.rowsAt, st.inverseAt, st.n, st.dim, st.outAt);
    outFor(out, st.n * st.dim, 'inverse.length').set(new Float32Array(buf, st.outAt, st.n * st.dim));
  }

  /**
   * Pooled rows of a CSR batch: keys offsets[r]..offsets[r+1] make row r, whose vector is the
   * `combiner` of w[j] * uniqueRows[inverse[j]] (w = `weights`, or 1). sum: the weighted sum; mean: the
   * sum divided by the sum of weights (the count without weights); sqrtn: divided by sqrt of the sum of
   * squared weights (sqrt(count)). An empty row, or one whose divisor is 0, gives zeros. Float32
   * accumulation. Writes `out` (at least rows x dim floats, rows = offsets.length - 1) when given.
   */
  pool(
    uniqueRows: Float32Array, inverse: Uint32Array, offsets: Uint32Array, dim: number, combiner: Combiner,
    weights: Float32Array | null = null, out?: Float32Array,
  ): Float32Array {
    const uniqueCount = checkRows(uniqueRows, dim);
    checkInverseType(inverse);
    assert(offsets instanceof Uint32Array && offsets.length >= 1, 'pool: offsets must be a Uint32Array of rows + 1 CSR offsets');
    assert(combiner in COMBINER_CODE, `pool: unknown combiner ${String(combiner)}`);
    const n = inverse.length, rows = offsets.length - 1;
    assert(weights === null || (weights instanceof Float32Array && weights.length === n), 'pool: weights must be null or one float per key');
    const target = outFor(out, rows * dim, 'rows (offsets.length - 1)');
    this.begin();
    const rowsAt = this.take(uniqueRows.length * 4), inverseAt = this.take(n * 4), offsetsAt = this.take(offsets.length * 4);
    const weightsAt = weights ? this.take(n * 4) : 0, outAt = this.take(rows * dim * 4);
    this.ensure();
    const buf = this.memory.buffer;
    new Float32Array(buf, rowsAt, uniqueRows.length).set(uniqueRows);
    new Uint32Array(buf, inverseAt, n).set(inverse);
    new Uint32Array(buf, offsetsAt, offsets.length).set(offsets);
    if (weights) new Float32Array(buf, weightsAt, n).set(weights);
    this.checkInverse(inverseAt, inverse, uniqueCount);
    // Checked in wasm too, since the pooling kernel reads rows by these offsets.
    const bad = this.kernels.pl_check_offsets(offsetsAt, rows, n) >>> 0;
    assert(bad === OK, `pool: offsets[${bad}] = ${offsets[bad]} breaks the CSR rule (0 first, non-decreasing, ${n} last)`);
    this.kernels.pl_pool(rowsAt, inverseAt, offsetsAt, rows, weightsAt, dim, COMBINER_CODE[combiner], outAt);
    target.set(new Float32Array(buf, outAt, rows * dim));
    return target;
  }

  private checkInverse(at: number, inverse: Uint32Array, uniqueCount: number): void {
    const bad = this.kernels.pl_check_inverse(at, inverse.length, uniqueCount) >>> 0;
    assert(bad === OK, `inverse[${bad}] = ${inverse[bad]} is not below the ${uniqueCount} unique rows`);
  }

  /** Starts a call's allocations at the bottom of the memory. */
  private begin(): void {
    this.top = KERNEL_RESERVED_BYTES;
  }

  /** A 16-byte aligned region of `bytes` for this call. */
  private take(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil(bytes / 16) * 16;
    return at;
  }

  /** Grows the memory to hold this call's regions. */
  private ensure(): void {
    if (this.top > MAX_BYTES) {
      throw new HpsError('CAPACITY', `pipeline kernels: this batch needs ${this.top} bytes of kernel memory, more than the ${MAX_BYTES} a wasm memory holds: split the batch`);
    }
    const have = this.memory.buffer.byteLength;
    if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / WASM_PAGE_BYTES));
  }
}

function checkKeys(keys: unknown, where: string): void {
  assert(keys instanceof BigInt64Array, `${where} must be a BigInt64Array (normalizeKeys)`);
}

function checkInverseType(inverse: unknown): void {
  assert(inverse instanceof Uint32Array, 'inverse must be a Uint32Array (from dedup)');
}

/** The row count of `rows`, whole rows of `dim`. */
function checkRows(rows: unknown, dim: number): number {
  assert(Number.isInteger(dim) && dim >= 1, `dim must be an integer >= 1, got ${String(dim)}`);
  assert(rows instanceof Float32Array && rows.length % dim === 0, `uniqueRows must be a Float32Array of whole rows of dim ${dim}`);
  return rows.length / dim;
}

function outFor(out: Float32Array | undefined, floats: number, what: string): Float32Array {
  if (out === undefined) return new Float32Array(floats);
  assert(out instanceof Float32Array && out.length >= floats, `out must be a Float32Array of at least ${what} x dim = ${floats} floats`);
  return out.length === floats ? out : out.subarray(0, floats);
}
