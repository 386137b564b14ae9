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
  /** A word view of the last buffer hashed in place (rows at 4-aligned offsets need no copy). */
  private words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private wordsOf: ArrayBufferLike | null = null;

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
    const start = bytes.byteOffset + at;
    let w: Int32Array;
    let from: number;
    if ((start & 3) === 0) {
      if (bytes.buffer !== this.wordsOf) {
        this.wordsOf = bytes.buffer;
        this.words = new Int32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
      }
      w = this.words;
      from = start >>> 2;
    } else {
      // LMDB's value buffers need not be 4-aligned: such a row is copied to read it as words.
      if (this.scratch.length < words) {
        this.scratch = new Int32Array(words);
        this.scratchBytes = new Uint8Array(this.scratch.buffer);
      }
      this.scratchBytes.set(bytes.subarray(at, at + (words << 2)));
      w = this.scratch;
      from = 0;
    }
    let a = Math.imul(lo ^ 0x2545f491, 0x9e3779b1) ^ hi;
    let b = Math.imul(hi ^ 0x68e31da4, 0x85ebca77) ^ lo;
    for (let i = from, end = from + words; i < end; i++) {
      const x = w[i];
      a = Math.imul(a ^ x, 0x9e3779b1);
      a = (a << 13) | (a >>> 19);
      b = Math.imul(b + x, 0xc2b2ae3d);
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
