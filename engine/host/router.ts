import type { HostKernels } from '../wasm/hostmap.js';

/**
 * Where a chunk of keys is split by partition and put back in order, laid out in the calling thread's
 * scratch of partition 0 (so that partition 0 gathers its keys straight into request order, and only
 * the other partitions' rows cross memories) and used through partition 0's kernel instance. The copies
 * stay bulk (one TypedArray.set per partition and piece) and no JavaScript runs per key. Offsets of its
 * areas are in bytes.
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

  /** Bytes the areas of a router for `chunkKeys` keys take. */
  static bytes(chunkKeys: number, parts: number, rowBytes: number): number {
    return Router.layout(0, chunkKeys, parts, rowBytes).end;
  }

  private static layout(base: number, chunkKeys: number, parts: number, rowBytes: number) {
    let at = base;
    const take = (bytes: number): number => {
      const off = at;
      at += Math.ceil(bytes / 64) * 64;
      return off;
    };
    return {
      keys: take(chunkKeys * 8), part: take(chunkKeys * 4), perm: take(chunkKeys * 4), offsets: take((parts + 1) * 4),
      cursor: take(parts * 4), grouped: take(chunkKeys * 8), groupedRows: take(chunkKeys * rowBytes),
      orderedRows: take(chunkKeys * rowBytes), missGrouped: take(chunkKeys * 4), flags: take(chunkKeys),
      missOut: take(chunkKeys * 4), get end() { return at - base; },
    };
  }

  /** A router over Router.bytes(...) bytes at `base` (64-aligned) of the memory `k` runs on. */
  constructor(k: HostKernels, buffer: ArrayBufferLike, base: number, chunkKeys: number, parts: number, rowBytes: number) {
    this.k = k;
    const l = Router.layout(base, chunkKeys, parts, rowBytes);
    this.keys = l.keys;
    this.part = l.part;
    this.perm = l.perm;
    this.offsets = l.offsets;
    this.cursor = l.cursor;
    this.grouped = l.grouped;
    this.groupedRows = l.groupedRows;
    this.orderedRows = l.orderedRows;
    this.missGrouped = l.missGrouped;
    this.flags = l.flags;
    this.missOut = l.missOut;
    this.i64 = new BigInt64Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  /** Splits keys[0..n) (already at `keys`) by partition; `u32[offsets/4 + p]` is where partition p starts. */
  route(n: number, parts: number): void {
    this.k.hm_route(this.keys, n, parts, this.part, this.offsets, this.cursor, this.perm, this.grouped);
  }
}
