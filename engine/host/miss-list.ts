/** Positions of keys not found, appended a chunk at a time (bulk copies, grown by doubling). */
export class MissList {
  private buf = new Uint32Array(0);
  private n = 0;

  push(positions: Uint32Array): void {
    const need = this.n + positions.length;
    if (need > this.buf.length) {
      const next = new Uint32Array(Math.max(need, 2 * this.buf.length, 64));
      next.set(this.buf.subarray(0, this.n));
      this.buf = next;
    }
    this.buf.set(positions, this.n);
    this.n = need;
  }

  result(): Uint32Array {
    return this.n === this.buf.length ? this.buf : this.buf.slice(0, this.n);
  }
}
