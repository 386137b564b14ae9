/**
 * Reused SharedArrayBuffers for requests split across the workers. A fresh buffer per request costs
 * its page faults again on every request (the workers touch every page of the rows they write), which
 * measured here as more than the lookups themselves; buffers go back to a free list after each request.
 */
export class SharedBuffers {
  private readonly free: SharedArrayBuffer[] = [];

  /** A buffer of at least `bytes` (the smallest free one that fits, else a new one). */
  take(bytes: number): SharedArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i].byteLength;
      if (size >= bytes && (best < 0 || size < this.free[best].byteLength)) best = i;
    }
    if (best < 0) return new SharedArrayBuffer(bytes);
    return this.free.splice(best, 1)[0];
  }

  /** Gives a buffer back; at most `keep` are kept (the largest), the rest left to the collector. */
  give(buffer: SharedArrayBuffer, keep = 8): void {
    this.free.push(buffer);
    if (this.free.length > keep) {
      this.free.sort((a, b) => b.byteLength - a.byteLength);
      this.free.length = keep;
    }
  }
}
