/**
 * Kernel memory layout shared by every kernel ABI: the bytes the module keeps for itself and the
 * page arithmetic of a wasm32 memory. Kernels keep no state of their own and use no shadow stack, so
 * every structure lives at offsets the caller passes, at or above KERNEL_RESERVED_BYTES.
 */

/** Bytes at the start of every kernel memory that belong to the module (globals, unused stack). */
export const KERNEL_RESERVED_BYTES = 65536;
export const WASM_PAGE_BYTES = 65536;
/** A wasm32 memory addresses at most 4 GiB. */
export const MAX_MEMORY_PAGES = 65536;

/** A new shared memory for kernels: `initialBytes` rounded up to pages, growable to `maxBytes`. */
export function newKernelMemory(initialBytes: number, maxBytes = MAX_MEMORY_PAGES * WASM_PAGE_BYTES): WebAssembly.Memory {
  const initial = Math.max(16, Math.ceil(initialBytes / WASM_PAGE_BYTES));
  const maximum = Math.min(MAX_MEMORY_PAGES, Math.max(initial, Math.ceil(maxBytes / WASM_PAGE_BYTES)));
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}
