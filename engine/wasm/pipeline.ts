/**
 * Typed signatures of the pipeline kernels exported by wasm/hps.wasm (wasm/pipeline.c). Pointers are
 * byte offsets into a thread-local kernel memory. Used only by engine/pipeline/kernels-wasm.ts and
 * engine/pipeline/key-order.ts.
 */
export interface PipelineKernelExports {
  /** Dedup in order of first occurrence; returns the unique count. `mask + 1` is the table size (a power of two > n). */
  pl_dedup(keys: number, n: number, unique: number, inverse: number, tableIdx: number, tableKeys: number, mask: number): number;
  /** First position with inverse[i] >= count, or 0xffffffff. */
  pl_check_inverse(inverse: number, n: number, count: number): number;
  pl_scatter(rows: number, inverse: number, n: number, dim: number, out: number): void;
  /** First bad CSR offset index, or 0xffffffff. */
  pl_check_offsets(offsets: number, rows: number, keys: number): number;
  /** `weights` 0 means none; combiner 0 sum, 1 mean, 2 sqrtn. */
  pl_pool(rows: number, inverse: number, offsets: number, nrows: number, weights: number, dim: number, combiner: number, out: number): void;
  /** Positions of keys[0..n) in ascending signed order to `order`; `tmp` n u32, `counts` 256 u32 of scratch. */
  pl_key_order(keys: number, n: number, order: number, tmp: number, counts: number): void;
}
