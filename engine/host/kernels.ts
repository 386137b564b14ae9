/** Typed signatures of the host-tier kernels exported by wasm/hps.wasm (hash index, gather, scatter). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface HostKernels {}
