import { readFileSync } from 'node:fs';
import type { HostKernels } from './host/kernels.js';
import type { CacheKernels } from './cache/kernels.js';
import type { PipelineKernelExports } from './pipeline/kernels-exports.js';

/**
 * The only module that loads wasm/hps.wasm. The module imports its memory (`env.memory`, shared), so
 * one compiled module is instantiated per (shared memory, thread) pair. Kernels keep no state of their
 * own and use no shadow stack: every structure lives at offsets the caller passes, at or above
 * KERNEL_RESERVED_BYTES, so many instances on one memory in many threads cannot collide.
 *
 * Pointers cross as wasm i32: pass offsets up to 4 GiB as numbers and read returned offsets with `>>> 0`.
 */
export type WasmKernels = HostKernels & CacheKernels & PipelineKernelExports;

/** Bytes at the start of every kernel memory that belong to the module (globals, unused stack). */
export const KERNEL_RESERVED_BYTES = 65536;
export const WASM_PAGE_BYTES = 65536;
/** A wasm32 memory addresses at most 4 GiB. */
export const MAX_MEMORY_PAGES = 65536;

const wasmPath = new URL('../../wasm/hps.wasm', import.meta.url);
let compiled: WebAssembly.Module | undefined;

/** The compiled kernel module, compiled once per thread (a Module may also be posted to workers). */
export function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(wasmPath));
  return compiled;
}

/** Instantiates the kernels against `memory` (a shared WebAssembly.Memory of at least 16 pages). */
export function instantiateKernels(memory: WebAssembly.Memory, module: WebAssembly.Module = kernelModule()): WasmKernels {
  const instance = new WebAssembly.Instance(module, { env: { memory }, wasi_snapshot_preview1: {} });
  return instance.exports as unknown as WasmKernels;
}

/** A new shared memory for kernels: `initialBytes` rounded up to pages, growable to `maxBytes`. */
export function newKernelMemory(initialBytes: number, maxBytes = MAX_MEMORY_PAGES * WASM_PAGE_BYTES): WebAssembly.Memory {
  const initial = Math.max(16, Math.ceil(initialBytes / WASM_PAGE_BYTES));
  const maximum = Math.min(MAX_MEMORY_PAGES, Math.max(initial, Math.ceil(maxBytes / WASM_PAGE_BYTES)));
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}
