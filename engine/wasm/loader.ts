import { readFileSync } from 'node:fs';
import type { HostKernels } from './hostmap.js';
import type { CacheKernels } from './cache.js';
import type { PipelineKernelExports } from './pipeline.js';

/**
 * The only module that loads wasm/hps.wasm. The module imports its memory (`env.memory`, shared), so
 * one compiled module is instantiated per (shared memory, thread) pair; see memory.ts for the layout
 * that lets many instances on one memory in many threads work without colliding.
 *
 * Pointers cross as wasm i32: pass offsets up to 4 GiB as numbers and read returned offsets with `>>> 0`.
 */
export type WasmKernels = HostKernels & CacheKernels & PipelineKernelExports;

const wasmPath = new URL('../../../wasm/hps.wasm', import.meta.url);
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
