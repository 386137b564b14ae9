// A seeded sequence of writes to one table (updates, erases and whole-table imports) with the table's
// expected contents after each: the writer applies it (in this process or a child), the reader checks
// against the same sequence.
import { join } from 'node:path';
import { rng } from './lmdb-random.js';
import { writeHugeCtr } from './import-files.js';

export type Write =
  | { op: 'update'; keys: BigInt64Array; vectors: Float32Array }
  | { op: 'erase'; keys: BigInt64Array }
  | { op: 'import'; folder: string; keys: BigInt64Array; vectors: Float32Array };

export class WriteSequence {
  readonly reference = new Map<bigint, Float32Array>();
  private readonly next: () => number;
  /** Requests draw from their own generator, so that a reader's requests do not change its write sequence. */
  private readonly nextRequest: () => number;
  private round = 0;

  /** `keys` (non-negative) and `vectors` are the table as first imported. */
  constructor(readonly dim: number, keys: BigInt64Array, vectors: Float32Array, seed: number, private readonly dir: string) {
    // In ascending key order, as a scan of the store returns them, so that a writer that read the table
    // back and a reader that holds the original files make the same sequence.
    const order = Array.from(keys.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    for (const i of order) this.reference.set(keys[i], vectors.slice(i * dim, (i + 1) * dim));
    this.next = rng(seed);
    this.nextRequest = rng(seed + 1);
  }

  private random(): number {
    return this.next() / 2 ** 32;
  }

  private vector(): Float32Array {
    return Float32Array.from({ length: this.dim }, () => this.random() * 2 - 1 || 0.25);
  }

  /** The next write (every third an import of the whole table with new rows); the reference follows it. */
  take(): Write {
    const round = this.round++;
    const present = [...this.reference.keys()];
    if (round % 3 === 2) {
      // New rows for most keys, some keys dropped, some new ones.
      const keys = present.filter(() => this.random() > 0.05);
      for (let i = 0; i < 500; i++) keys.push(BigInt(2 ** 33 + round * 1000 + i));
      const vectors = new Float32Array(keys.length * this.dim);
      this.reference.clear();
      keys.forEach((k, i) => {
        const v = this.vector();
        vectors.set(v, i * this.dim);
        this.reference.set(k, v);
      });
      const folder = join(this.dir, `import-${round}`);
      const k64 = BigInt64Array.from(keys);
      writeHugeCtr(folder, k64, vectors);
      return { op: 'import', folder, keys: k64, vectors };
    }
    const pick = BigInt64Array.from({ length: 600 }, () => present[Math.floor(this.random() * present.length)]);
    const keys = BigInt64Array.from(new Set(pick));
    if (round % 3 === 1) {
      for (const k of keys) this.reference.delete(k);
      return { op: 'erase', keys };
    }
    const vectors = new Float32Array(keys.length * this.dim);
    keys.forEach((k, i) => {
      const v = this.vector();
      vectors.set(v, i * this.dim);
      this.reference.set(k, v);
    });
    return { op: 'update', keys, vectors };
  }

  /** A random request of `n` keys: present ones, keys written lately, and some never present. */
  request(n: number, recent: BigInt64Array | null): BigInt64Array {
    const present = [...this.reference.keys()];
    const random = () => this.nextRequest() / 2 ** 32;
    return BigInt64Array.from({ length: n }, (_, i) => {
      const r = random();
      if (recent && recent.length > 0 && r < 0.4) return recent[Math.floor(random() * recent.length)];
      if (r > 0.95) return BigInt(2 ** 40 + i);
      return present[Math.floor(random() * present.length)];
    });
  }

  /** Positions of `keys` whose row in `out` is not what the reference says (`fallback` for absent keys). */
  wrong(keys: BigInt64Array, out: Float32Array, fallback: number): number[] {
    const bad: number[] = [];
    keys.forEach((k, i) => {
      const row = this.reference.get(k);
      for (let d = 0; d < this.dim; d++) {
        const expected = row ? row[d] : fallback;
        if (out[i * this.dim + d] !== expected) {
          bad.push(i);
          return;
        }
      }
    });
    return bad;
  }
}
