import { mkdirSync, rmSync } from 'node:fs';
import { RUN_DIR_PREFIX } from '../lmdb/abandoned-runs.js';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readExact, type RowChunk } from './source.js';

/**
 * External sort of an import by stored key order (key-codec.ts: int64 with the sign bit flipped,
 * then the low half), for sources larger than the import's memory budget. LMDB is copy-on-write:
 * rows inserted in random order touch most pages of the tree in every transaction (a 2^22-row
 * import in 16 MiB transactions took 224 s and left half-full pages); sorted rows are appended at the
 * right edge instead, in dense pages. Each run (a chunk of the source) is sorted in memory and
 * spilled to a file next to the environment, then the runs are merged; equal keys keep file order,
 * so the last occurrence of a key wins as with plain puts.
 */
export class SortedRuns {
  private readonly runs: { file: string; rows: number }[] = [];
  private readonly dir: string;
  private readonly sorter = new ChunkSorter();

  constructor(parent: string, private readonly dim: number) {
    this.dir = join(parent, `${RUN_DIR_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  }

  /** Sorts one run and spills it to a file. */
  async add(unsorted: RowChunk): Promise<void> {
    const chunk = this.sorter.sort(unsorted, this.dim);
    if (this.runs.length === 0) mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, `run-${this.runs.length}`);
    const fh = await open(file, 'w');
    try {
      await fh.write(new Uint8Array(chunk.keys.buffer, chunk.keys.byteOffset, chunk.keys.byteLength));
      await fh.write(new Uint8Array(chunk.vectors.buffer, chunk.vectors.byteOffset, chunk.vectors.byteLength));
    } finally {
      await fh.close();
    }
    this.runs.push({ file, rows: chunk.keys.length });
  }

  /** Yields every spilled row in key order, `outRows` per chunk (buffers reused). */
  async *merge(outRows: number, readRows = 4096): AsyncGenerator<RowChunk> {
    const dim = this.dim;
    // One buffer holds the output rows and every reader's rows, so a row moves with copyWithin (a
    // memmove) instead of a per-float loop or a subarray object per row.
    const space = new ArrayBuffer((outRows + this.runs.length * readRows) * dim * 4);
    const words = new Int32Array(space);
    const readers = await Promise.all(this.runs.map((r, j) => RunReader.open(r.file, r.rows, dim, readRows, words, (outRows + j * readRows) * dim)));
    try {
      const keys = new BigInt64Array(outRows);
      const halves = new Uint32Array(keys.buffer);
      const vectors = new Float32Array(space, 0, outRows * dim);
      const active = readers.filter((r) => r.rows > 0);
      for (const r of active) await r.fill();
      let n = 0;
      while (active.length > 0) {
        // The smallest head; ties go to the earlier run (file order), kept because runs are scanned in order.
        let best = 0;
        for (let j = 1; j < active.length; j++) if (less(active[j], active[best])) best = j;
        const r = active[best];
        const i = r.at;
        halves[2 * n] = r.halves[2 * i];
        halves[2 * n + 1] = r.halves[2 * i + 1];
        const from = r.base + i * dim;
        words.copyWithin(n * dim, from, from + dim);
        if (++n === outRows) {
          yield { keys, vectors };
          n = 0;
        }
        if (++r.at === r.loaded) {
          if (r.done()) active.splice(best, 1);
          else await r.fill();
        }
      }
      if (n > 0) yield { keys: keys.subarray(0, n), vectors: vectors.subarray(0, n * dim) };
    } finally {
      await Promise.all(readers.map((r) => r.close()));
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class RunReader {
  private readonly keys: BigInt64Array;
  readonly halves: Uint32Array;
  private readonly bytes: Uint8Array;
  private next = 0;
  at = 0;
  loaded = 0;

  /** Rows are read into `words` (shared with the merge) from word offset `base`. */
  private constructor(private readonly fh: FileHandle, private readonly file: string, readonly rows: number, private readonly dim: number, bufRows: number, words: Int32Array, readonly base: number) {
    this.keys = new BigInt64Array(bufRows);
    this.halves = new Uint32Array(this.keys.buffer);
    this.bytes = new Uint8Array(words.buffer, base * 4, bufRows * dim * 4);
  }

  static async open(file: string, rows: number, dim: number, bufRows: number, words: Int32Array, base: number): Promise<RunReader> {
    return new RunReader(await open(file, 'r'), file, rows, dim, bufRows, words, base);
  }

  async fill(): Promise<void> {
    const n = Math.min(this.keys.length, this.rows - this.next);
    await readExact(this.fh, new Uint8Array(this.keys.buffer, 0, n * 8), this.next * 8, this.file);
    await readExact(this.fh, this.bytes.subarray(0, n * this.dim * 4), this.rows * 8 + this.next * this.dim * 4, this.file);
    this.next += n;
    this.at = 0;
    this.loaded = n;
  }

  done(): boolean {
    return this.next === this.rows;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

function less(a: RunReader, b: RunReader): boolean {
  const ah = (a.halves[2 * a.at + 1] ^ 0x80000000) >>> 0;
  const bh = (b.halves[2 * b.at + 1] ^ 0x80000000) >>> 0;
  return ah < bh || (ah === bh && a.halves[2 * a.at] < b.halves[2 * b.at]);
}

/**
 * Sorts chunks by stored key order (stable) into buffers of its own, reused from chunk to chunk.
 * Source rows are copied next to the sorted area of one buffer so that each row moves with one
 * copyWithin (a memmove).
 */
class ChunkSorter {
  private space = new Int32Array(0);
  private keys = new BigInt64Array(0);

  sort(chunk: RowChunk, dim: number): RowChunk {
    const n = chunk.keys.length;
    const order = sortOrder(chunk.keys);
    if (!order) return chunk;
    const halves = new Uint32Array(chunk.keys.buffer, chunk.keys.byteOffset, n * 2);
    const rowsWords = n * dim;
    if (this.space.length < 2 * rowsWords) this.space = new Int32Array(2 * rowsWords);
    if (this.keys.length < n) this.keys = new BigInt64Array(n);
    const space = this.space;
    space.set(new Int32Array(chunk.vectors.buffer, chunk.vectors.byteOffset, rowsWords), rowsWords);
    const outHalves = new Uint32Array(this.keys.buffer, 0, n * 2);
    for (let j = 0; j < n; j++) {
      const i = order[j];
      outHalves[2 * j] = halves[2 * i];
      outHalves[2 * j + 1] = halves[2 * i + 1];
      space.copyWithin(j * dim, rowsWords + i * dim, rowsWords + (i + 1) * dim);
    }
    return { keys: this.keys.subarray(0, n), vectors: new Float32Array(space.buffer, 0, rowsWords) };
  }
}

/** The stable order of `keys` by stored key order, or null when they are in order already. */
export function sortOrder(keys: BigInt64Array): Uint32Array | null {
  const n = keys.length;
  const halves = new Uint32Array(keys.buffer, keys.byteOffset, n * 2);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    hi[i] = (halves[2 * i + 1] ^ 0x80000000) >>> 0;
    lo[i] = halves[2 * i];
    if (sorted && i > 0 && (hi[i] < hi[i - 1] || (hi[i] === hi[i - 1] && lo[i] < lo[i - 1]))) sorted = false;
  }
  return sorted ? null : radixOrder(hi, lo, n);
}

/**
 * The stable order of (hi, lo) pairs: LSD radix sort on 8-bit digits, low half first, skipping
 * digits that are the same for every key (e.g. the high bytes of small keys).
 */
function radixOrder(hi: Uint32Array, lo: Uint32Array, n: number): Uint32Array {
  let order = new Uint32Array(n);
  let spare = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const count = new Uint32Array(256);
  for (let pass = 0; pass < 8; pass++) {
    const word = pass < 4 ? lo : hi;
    const shift = (pass & 3) * 8;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(word[i] >>> shift) & 255]++;
    if (count[(word[0] >>> shift) & 255] === n) continue;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const idx = order[i];
      spare[count[(word[idx] >>> shift) & 255]++] = idx;
    }
    [order, spare] = [spare, order];
  }
  return order;
}
