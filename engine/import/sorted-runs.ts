import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readExact, type RowChunk } from './source.js';

/**
 * External sort of an import by stored key order (key-codec.ts: int64 with the sign bit flipped,
 * then the low half). LMDB is copy-on-write: rows inserted in random order touch every page of the
 * tree in every transaction, which made a 2^22-row import rewrite the tree ~60 times. Sorted rows
 * are appended at the right edge instead, in dense pages. Runs of about `runBytes` are sorted in
 * memory and spilled to files next to the environment, then merged; equal keys keep file order, so
 * the last occurrence of a key wins as with plain puts.
 */
export class SortedRuns {
  private readonly runs: { file: string; rows: number }[] = [];
  private readonly dir: string;

  constructor(parent: string, private readonly dim: number) {
    this.dir = join(parent, `${RUN_DIR_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  }

  /** Sorts one run (its arrays are reordered in place) and spills it to a file. */
  async add(chunk: RowChunk): Promise<void> {
    sortChunk(chunk, this.dim);
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
    const readers = await Promise.all(this.runs.map((r) => RunReader.open(r.file, r.rows, dim, readRows)));
    try {
      const keys = new BigInt64Array(outRows);
      const halves = new Uint32Array(keys.buffer);
      const vectors = new Float32Array(outRows * dim);
      const words = new Int32Array(vectors.buffer);
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
        const from = i * dim;
        const to = n * dim;
        for (let k = 0; k < dim; k++) words[to + k] = r.words[from + k];
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

const RUN_DIR_PREFIX = '.import-runs-';

/** Removes run folders of imports whose process is gone (a killed import). */
export function removeAbandonedRuns(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const pid = Number(name.slice(RUN_DIR_PREFIX.length).split('-')[0]);
    if (!isAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class RunReader {
  private readonly keys: BigInt64Array;
  readonly halves: Uint32Array;
  readonly words: Int32Array;
  private readonly vectors: Float32Array;
  private next = 0;
  at = 0;
  loaded = 0;

  private constructor(private readonly fh: FileHandle, private readonly file: string, readonly rows: number, private readonly dim: number, bufRows: number) {
    this.keys = new BigInt64Array(Math.min(bufRows, Math.max(rows, 1)));
    this.halves = new Uint32Array(this.keys.buffer);
    this.vectors = new Float32Array(this.keys.length * dim);
    this.words = new Int32Array(this.vectors.buffer);
  }

  static async open(file: string, rows: number, dim: number, bufRows: number): Promise<RunReader> {
    return new RunReader(await open(file, 'r'), file, rows, dim, bufRows);
  }

  async fill(): Promise<void> {
    const n = Math.min(this.keys.length, this.rows - this.next);
    await readExact(this.fh, new Uint8Array(this.keys.buffer, 0, n * 8), this.next * 8, this.file);
    await readExact(this.fh, new Uint8Array(this.vectors.buffer, 0, n * this.dim * 4), this.rows * 8 + this.next * this.dim * 4, this.file);
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

/** Reorders a chunk's keys and rows by stored key order, stable. */
export function sortChunk(chunk: RowChunk, dim: number): void {
  const { keys, vectors } = chunk;
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
  if (sorted) return;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (hi[a] !== hi[b] ? (hi[a] < hi[b] ? -1 : 1) : lo[a] !== lo[b] ? (lo[a] < lo[b] ? -1 : 1) : a - b));
  const words = new Int32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const copy = words.slice();
  for (let j = 0; j < n; j++) {
    const i = order[j];
    halves[2 * j] = lo[i];
    halves[2 * j + 1] = (hi[i] ^ 0x80000000) >>> 0;
    const from = i * dim;
    const to = j * dim;
    for (let k = 0; k < dim; k++) words[to + k] = copy[from + k];
  }
}
