import { instantiateKernels, KERNEL_RESERVED_BYTES, newKernelMemory } from '../wasm.js';
import type { HostKernels } from './kernels.js';

/**
 * A thread-local memory where a chunk of keys is split by partition and put back in order, so that the
 * copies to and from the partitions stay bulk (one TypedArray.set per partition and chunk) and no
 * JavaScript runs per key. Offsets of its areas are in bytes.
 */
export class Router {
  readonly k: HostKernels;
  readonly keys: number;
  readonly part: number;
  readonly perm: number;
  readonly offsets: number;
  readonly cursor: number;
  readonly grouped: number;
  readonly groupedRows: number;
  readonly orderedRows: number;
  readonly missGrouped: number;
  readonly flags: number;
  readonly missOut: number;
  readonly i64: BigInt64Array;
  readonly f32: Float32Array;
  readonly u32: Uint32Array;

  constructor(module: WebAssembly.Module, chunkKeys: number, parts: number, rowBytes: number) {
    let at = KERNEL_RESERVED_BYTES;
    const take = (bytes: number): number => {
      const off = at;
      at += Math.ceil(bytes / 64) * 64;
      return off;
    };
    this.keys = take(chunkKeys * 8);
    this.part = take(chunkKeys * 4);
    this.perm = take(chunkKeys * 4);
    this.offsets = take((parts + 1) * 4);
    this.cursor = take(parts * 4);
    this.grouped = take(chunkKeys * 8);
    this.groupedRows = take(chunkKeys * rowBytes);
    this.orderedRows = take(chunkKeys * rowBytes);
    this.missGrouped = take(chunkKeys * 4);
    this.flags = take(chunkKeys);
    this.missOut = take(chunkKeys * 4);
    const memory = newKernelMemory(at, at);
    this.k = instantiateKernels(memory, module) as HostKernels;
    this.i64 = new BigInt64Array(memory.buffer);
    this.f32 = new Float32Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
  }

  /** Splits keys[0..n) (already at `keys`) by partition; `u32[offsets/4 + p]` is where partition p starts. */
  route(n: number, parts: number): void {
    this.k.hm_route(this.keys, n, parts, this.part, this.offsets, this.cursor, this.perm, this.grouped);
  }
}
