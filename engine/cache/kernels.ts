/** Typed signatures of the L1 cache kernels exported by wasm/hps.wasm (set-associative cache). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface CacheKernels {}
