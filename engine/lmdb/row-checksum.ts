/**
 * A table's checksum: the sum, modulo 2^32 in each of two lanes, of a 64-bit hash of every row (its key
 * and its vector's bytes). A sum does not depend on the order of the rows, so it is kept up to date by
 * every write in the write's own transaction (subtract the old row's hash, add the new one's) instead of
 * going stale after the first update; `hps check` recomputes it from a scan and compares. Node's crypto
 * hashes are ordered streams and would cost an object per row for this, so the hash is a few integer
 * multiplies per 32-bit word: each lane is a chain of bijections, so changing any one word of a row always
 * changes the row's hash, and a random change goes unnoticed with a chance of about 2^-64.
 */
export class RowChecksum {
  private a = 0;
  private b = 0;
  private scratch = new Int32Array(64);
  private scratchBytes = new Uint8Array(this.scratch.buffer);

  /** The checksum stored by `toString`; null or undefined (no checksum recorded) gives null. */
  static parse(text: string | null | undefined): RowChecksum | null {
    if (typeof text !== 'string' || !/^[0-9a-f]{16}$/.test(text)) return null;
    const sum = new RowChecksum();
    sum.a = parseInt(text.slice(0, 8), 16) | 0;
    sum.b = parseInt(text.slice(8), 16) | 0;
    return sum;
  }

  /** Adds the row of key (lo, hi: its int64 bit pattern's halves) whose vector is `bytes[at, at + length)`. */
  add(lo: number, hi: number, bytes: Uint8Array, at: number, length: number): void {
    this.mix(lo, hi, bytes, at, length, 1);
  }

  /** Takes away a row added before (an overwritten or erased one). */
  remove(lo: number, hi: number, bytes: Uint8Array, at: number, length: number): void {
    this.mix(lo, hi, bytes, at, length, -1);
  }

  equals(other: RowChecksum): boolean {
    return this.a === other.a && this.b === other.b;
  }

  toString(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }

  private mix(lo: number, hi: number, bytes: Uint8Array, at: number, length: number, sign: 1 | -1): void {
    const words = length >>> 2;
    if (this.scratch.length < words) {
      this.scratch = new Int32Array(words);
      this.scratchBytes = new Uint8Array(this.scratch.buffer);
    }
    // Copied so that rows at any byte offset (LMDB's value buffers need not be 4-aligned) read as words.
    const s = this.scratchBytes;
    for (let i = 0; i < length; i++) s[i] = bytes[at + i];
    let a = Math.imul(lo ^ 0x2545f491, 0x9e3779b1) ^ hi;
    let b = Math.imul(hi ^ 0x68e31da4, 0x85ebca77) ^ lo;
    const w = this.scratch;
    for (let i = 0; i < words; i++) {
      a = Math.imul(a ^ w[i], 0x9e3779b1);
      a = (a << 13) | (a >>> 19);
      b = Math.imul(b + w[i], 0xc2b2ae3d);
      b = (b << 17) | (b >>> 15);
    }
    a = fmix(a ^ words);
    b = fmix(b ^ a);
    this.a = (this.a + sign * a) | 0;
    this.b = (this.b + sign * b) | 0;
  }
}

/** murmur3's finalizer: spreads every input bit over the whole word (a bijection). */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
