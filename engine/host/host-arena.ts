import { HpsError } from '../errors.js';
import { instantiateKernels, kernelModule } from '../wasm/loader.js';
import { newKernelMemory } from '../wasm/memory.js';
import { HEADER_OFFSET, MAX_LOAD_Q16, POLICY_CODES, Stat, type HostKernels } from '../wasm/hostmap.js';
import { expectedPerPartition, resolveArenaOptions, slabStepBytes, type HostArenaOptions, type ResolvedArenaOptions } from './options.js';
import { PartitionView } from './partition.js';
import { Router } from './router.js';
import { MissList } from './miss-list.js';

export type { HostArenaOptions } from './options.js';

/** What travels to another thread (workerData / postMessage): the shared memories and the options. */
export interface HostArenaHandle {
  kind: 'hps.HostArena';
  options: ResolvedArenaOptions;
  memories: WebAssembly.Memory[];
  /** The compiled kernels, so that every thread runs the same code without compiling it again. */
  module: WebAssembly.Module;
}

export interface HostArenaStats {
  /** Keys held. */
  size: number;
  /** Keys found / not found by lookups (every thread). */
  hits: number;
  misses: number;
  /** New keys inserted; rows replaced in place. */
  insertions: number;
  replacements: number;
  /** Keys removed by overflow handling; keys removed by erase. */
  evictions: number;
  erasures: number;
  /** Bytes of memory the partitions hold. */
  bytes: number;
}

const H = HEADER_OFFSET;
/** Row bytes a chunk of work aims at: small enough to stay in cache between the copies. */
const CHUNK_ROW_BYTES = 128 << 10;

/**
 * The host tier (L2, HPS's volatile database) of one table: `numPartitions` partitions, each a hash map
 * in its own shared WebAssembly.Memory (wasm/hostmap.c). Keys map to partitions by hash. Lookups take no
 * lock and never see a torn row; writes take the partition's writer lock. `handle()` and
 * `HostArena.attach()` give another thread a full view over the same memories. Each instance belongs to
 * the thread that made it.
 */
export class HostArena {
  readonly dim: number;
  readonly numPartitions: number;
  readonly options: ResolvedArenaOptions;
  private readonly memories: WebAssembly.Memory[];
  private readonly module: WebAssembly.Module;
  private readonly parts: PartitionView[];
  private readonly router: Router;
  /** Keys per piece of work in one partition (its scratch) and per routed chunk (the router). */
  private readonly chunk: number;
  private readonly routedChunk: number;
  private readonly rowBytes: number;
  private closed = false;

  private constructor(options: ResolvedArenaOptions, memories: WebAssembly.Memory[], module: WebAssembly.Module) {
    this.module = module;
    this.options = options;
    this.dim = options.dim;
    this.numPartitions = options.numPartitions;
    this.memories = memories;
    this.rowBytes = options.dim * 4;
    const P = options.numPartitions;
    const base = roundUp16(Math.min(4096, Math.max(64, Math.round(CHUNK_ROW_BYTES / this.rowBytes))));
    // A routed chunk gives each partition about half its scratch, so that calls stay long; a larger
    // group is served in pieces. It holds at most a chunk of rows, and with many partitions each
    // partition's scratch shrinks to about twice its share of a routed chunk: every thread keeps a
    // scratch in every partition, which counts against the memory target at small dims.
    this.routedChunk = P === 1 ? base : Math.max(base, Math.min(16384, roundUp16((base * P) / 2), base));
    this.chunk = P === 1 ? base : Math.min(base, Math.max(64, roundUp16((2 * this.routedChunk) / P)));
    this.parts = [];
    try {
      // The thread's router lives in its scratch of partition 0 (see lookupRouted).
      const routerBytes = Router.bytes(this.routedChunk, P, this.rowBytes);
      memories.forEach((m, q) => this.parts.push(new PartitionView(m, module, this.chunk, this.rowBytes, q === 0 ? routerBytes : 0)));
    } catch (err) {
      for (const p of this.parts) p.release();
      throw err;
    }
    const p0 = this.parts[0];
    this.router = new Router(p0.k, p0.memory.buffer, p0.extraAt, this.routedChunk, P, this.rowBytes);
  }

  /** A new, empty arena. Options are validated; errors name the option, its value and what was expected. */
  static create(options: HostArenaOptions): HostArena {
    const o = resolveArenaOptions(options);
    const module = kernelModule();
    const margin = Math.min(o.overflowMargin, 0xffffffff);
    const target = Math.floor(o.overflowResolutionTarget * margin);
    // Keys spread over partitions by hash: room for three standard deviations above the mean, so that
    // an index sized for expectedKeys never grows while it is loaded (16-byte slots: slack costs memory).
    const perPartition = expectedPerPartition(o);
    const initialKeys = Math.ceil(perPartition + (o.numPartitions > 1 ? 3 * Math.sqrt(perPartition) : 0));
    const memories: WebAssembly.Memory[] = [];
    for (let p = 0; p < o.numPartitions; p++) {
      const memory = newKernelMemory(1 << 20, o.maxPartitionBytes);
      const k = instantiateKernels(memory, module) as HostKernels;
      const seed = (Math.random() * 0x100000000) >>> 0;
      if (k.hm_init(H, o.dim, POLICY_CODES[o.overflowPolicy], slabStepBytes(o), margin, target, initialKeys, MAX_LOAD_Q16, seed)) {
        throw new HpsError('CAPACITY', `HostArena.create: partition ${p} cannot hold an index for ${initialKeys} keys in ${o.maxPartitionBytes} bytes: add partitions or lower options.expectedKeys`);
      }
      memories.push(memory);
    }
    return new HostArena(o, memories, module);
  }

  /** A full view (reads and writes) of the arena behind `handle` for the calling thread. */
  static attach(handle: HostArenaHandle): HostArena {
    const h = handle as Partial<HostArenaHandle> | null;
    if (typeof h !== 'object' || h === null || h.kind !== 'hps.HostArena' || !Array.isArray(h.memories) || !h.options) {
      throw new HpsError('BAD_CONFIG', 'HostArena.attach: expected the object returned by arena.handle() (kind "hps.HostArena" with its memories)');
    }
    const o = resolveArenaOptions(h.options);
    if (h.memories.length !== o.numPartitions || !h.memories.every((m) => m instanceof WebAssembly.Memory)) {
      throw new HpsError('BAD_CONFIG', `HostArena.attach: handle.memories must be ${o.numPartitions} WebAssembly.Memory objects, got ${h.memories.length} entries`);
    }
    if (!(h.module instanceof WebAssembly.Module)) {
      throw new HpsError('BAD_CONFIG', 'HostArena.attach: handle.module must be the WebAssembly.Module of arena.handle()');
    }
    return new HostArena(o, h.memories, h.module);
  }

  /** Structured-cloneable description of the arena for HostArena.attach in another thread. */
  handle(): HostArenaHandle {
    return { kind: 'hps.HostArena', options: { ...this.options }, memories: [...this.memories], module: this.module };
  }

  /**
   * Writes the row of every key found into `out` (row outRowOffset + i for keys[i]; zeros for keys not
   * found) and returns the ascending positions i of the keys not found. Lock-free; never a torn row.
   */
  lookup(keys: BigInt64Array, out: Float32Array, outRowOffset = 0): Uint32Array {
    this.checkOpen('lookup');
    if (!(keys instanceof BigInt64Array)) throw new HpsError('BAD_KEY', `HostArena.lookup: keys must be a BigInt64Array (engine/keys.ts normalizeKeys), got ${kind(keys)}`);
    if (!(out instanceof Float32Array)) throw new HpsError('BAD_OUTPUT', `HostArena.lookup: out must be a Float32Array, got ${kind(out)}`);
    if (!Number.isInteger(outRowOffset) || outRowOffset < 0) throw new HpsError('BAD_OUTPUT', `HostArena.lookup: outRowOffset is ${outRowOffset}: expected an integer >= 0`);
    const n = keys.length, dim = this.dim;
    if (out.length < (outRowOffset + n) * dim) {
      throw new HpsError('BAD_OUTPUT', `HostArena.lookup: out holds ${out.length} floats; ${n} keys of dim ${dim} from row ${outRowOffset} need ${(outRowOffset + n) * dim}`);
    }
    const misses = new MissList();
    if (this.numPartitions === 1) this.lookupOne(keys, out, outRowOffset, misses);
    else this.lookupRouted(keys, out, outRowOffset, misses);
    return misses.result();
  }

  private lookupOne(keys: BigInt64Array, out: Float32Array, outRowOffset: number, misses: MissList): void {
    const p = this.parts[0], dim = this.dim, C = this.chunk, n = keys.length;
    const keyIndex = p.keysAt / 8, rowIndex = p.rowsAt / 4, missIndex = p.missAt / 4;
    for (let i = 0; i < n; i += C) {
      const c = Math.min(C, n - i);
      p.i64.set(keys.subarray(i, i + c), keyIndex);
      const m = p.gather(p.keysAt, c, p.rowsAt, 0, p.missAt, i);
      out.set(p.f32.subarray(rowIndex, rowIndex + c * dim), (outRowOffset + i) * dim);
      if (m) misses.push(p.u32.subarray(missIndex, missIndex + m));
    }
  }

  /**
   * Several partitions: the router (in this thread's scratch of partition 0) groups a chunk's keys by
   * partition. Partition 0 gathers its group straight into request order; every other partition gathers
   * into its own scratch, and its rows cross to partition 0's memory in one bulk copy per piece and are
   * scattered into request order there. Then one copy of the chunk's rows to `out`.
   */
  private lookupRouted(keys: BigInt64Array, out: Float32Array, outRowOffset: number, misses: MissList): void {
    const r = this.router, dim = this.dim, C = this.routedChunk, S = this.chunk, n = keys.length, P = this.numPartitions;
    const offsets = r.offsets / 4, grouped = r.grouped / 8, p0 = this.parts[0], incoming = p0.rowsAt;
    for (let i = 0; i < n; i += C) {
      const c = Math.min(C, n - i);
      r.i64.set(keys.subarray(i, i + c), r.keys / 8);
      r.route(c, P);
      let m = 0;
      for (let q = 0; q < P; q++) {
        const end = r.u32[offsets + q + 1];
        const p = this.parts[q];
        for (let a = r.u32[offsets + q]; a < end; a += S) {
          const b = Math.min(end, a + S);
          if (q === 0) {
            m += p.gather(r.grouped + a * 8, b - a, r.orderedRows, r.perm + a * 4, r.missGrouped + m * 4, a);
            continue;
          }
          p.i64.set(r.i64.subarray(grouped + a, grouped + b), p.keysAt / 8);
          const mq = p.gather(p.keysAt, b - a, p.rowsAt, 0, p.missAt, a);
          r.f32.set(p.f32.subarray(p.rowsAt / 4, p.rowsAt / 4 + (b - a) * dim), incoming / 4);
          r.k.hm_permute_rows(incoming, r.perm + a * 4, b - a, this.rowBytes, r.orderedRows, 1);
          if (mq) {
            r.u32.set(p.u32.subarray(p.missAt / 4, p.missAt / 4 + mq), r.missGrouped / 4 + m);
            m += mq;
          }
        }
      }
      out.set(r.f32.subarray(r.orderedRows / 4, r.orderedRows / 4 + c * dim), (outRowOffset + i) * dim);
      if (m) {
        const mm = r.k.hm_unpermute_misses(r.perm, r.missGrouped, m, r.flags, c, r.missOut, i);
        misses.push(r.u32.subarray(r.missOut / 4, r.missOut / 4 + mm));
      }
    }
  }

  /**
   * Inserts keys[i] -> row i of `vectors` (n x dim floats), replacing rows of keys already held; a later
   * repeat of a key wins. Then runs overflow handling in each partition that holds more than
   * overflowMargin keys. Bad input or a full arena (CAPACITY) throws before anything changes.
   */
  insert(keys: BigInt64Array, vectors: Float32Array): void {
    this.checkOpen('insert');
    if (!(keys instanceof BigInt64Array)) throw new HpsError('BAD_KEY', `HostArena.insert: keys must be a BigInt64Array (engine/keys.ts normalizeKeys), got ${kind(keys)}`);
    if (!(vectors instanceof Float32Array)) throw new HpsError('BAD_VECTOR', `HostArena.insert: vectors must be a Float32Array, got ${kind(vectors)}`);
    const n = keys.length, dim = this.dim;
    if (vectors.length !== n * dim) {
      throw new HpsError('BAD_VECTOR', `HostArena.insert: vectors holds ${vectors.length} floats; ${n} keys of dim ${dim} need exactly ${n * dim}`);
    }
    if (n === 0) return;
    const touched = this.lockTouched(keys);
    try {
      this.reserve(keys);
      this.forEachGroup(keys, vectors, (p, a, b) => p.k.hm_insert(H, p.keysAt, p.rowsAt, b - a));
      this.parts.forEach((p, q) => { if (touched[q]) p.k.hm_evict(H); });
    } finally {
      this.unlockTouched(touched);
    }
  }

  /**
   * Takes the writer locks of the partitions `keys` fall in, in ascending order (so that writers never
   * deadlock); a batch is then applied as a whole with respect to other writers.
   */
  private lockTouched(keys: BigInt64Array): Uint8Array {
    const touched = new Uint8Array(this.numPartitions);
    if (this.numPartitions === 1) touched[0] = keys.length > 0 ? 1 : 0;
    else {
      const r = this.router, C = this.routedChunk, P = this.numPartitions, offsets = r.offsets / 4;
      for (let i = 0; i < keys.length; i += C) {
        const c = Math.min(C, keys.length - i);
        r.i64.set(keys.subarray(i, i + c), r.keys / 8);
        r.route(c, P);
        for (let q = 0; q < P; q++) if (r.u32[offsets + q + 1] > r.u32[offsets + q]) touched[q] = 1;
      }
    }
    for (let q = 0; q < this.numPartitions; q++) if (touched[q]) this.parts[q].lock();
    return touched;
  }

  private unlockTouched(touched: Uint8Array): void {
    for (let q = this.numPartitions - 1; q >= 0; q--) if (touched[q]) this.parts[q].unlock();
  }

  /** Makes room in every partition for the new keys of `keys` (their locks held), or throws CAPACITY. */
  private reserve(keys: BigInt64Array): void {
    const P = this.numPartitions;
    const upper = new Float64Array(P);
    this.forEachGroup(keys, null, (_p, a, b, q) => { upper[q] += b - a; });
    const exact = new Float64Array(P);
    const counting = this.parts.map((p, q) => upper[q] > 0 && p.k.hm_reserve(H, Math.min(upper[q], 0xffffffff), 1) !== 0);
    if (counting.some(Boolean)) {
      this.forEachGroup(keys, null, (p, a, b, q) => {
        if (counting[q]) exact[q] += p.k.hm_count_absent(H, p.keysAt, b - a);
      });
    }
    for (let q = 0; q < P; q++) {
      if (!counting[q]) continue;
      if (exact[q] > 0xffffffff || this.parts[q].k.hm_reserve(H, exact[q], 0) !== 0) {
        throw new HpsError('CAPACITY', `HostArena.insert: partition ${q} cannot grow to hold ${exact[q]} more keys of dim ${this.dim} (${this.options.maxPartitionBytes} bytes per partition); nothing was inserted: use more partitions or an overflowMargin`);
      }
    }
  }

  /**
   * Runs `fn` for each routed chunk, partition and scratch-sized piece with that piece's keys (and their
   * rows when `vectors` is given) copied into the partition's scratch, in the batch's order.
   */
  private forEachGroup(keys: BigInt64Array, vectors: Float32Array | null,
    fn: (p: PartitionView, a: number, b: number, q: number) => void): void {
    const r = this.router, dim = this.dim, C = this.routedChunk, S = this.chunk, n = keys.length, P = this.numPartitions;
    const offsets = r.offsets / 4, grouped = r.grouped / 8, groupedRows = r.groupedRows / 4;
    for (let i = 0; i < n; i += C) {
      const c = Math.min(C, n - i);
      r.i64.set(keys.subarray(i, i + c), r.keys / 8);
      r.route(c, P);
      if (vectors) {
        r.f32.set(vectors.subarray(i * dim, (i + c) * dim), r.orderedRows / 4);
        r.k.hm_permute_rows(r.orderedRows, r.perm, c, this.rowBytes, r.groupedRows, 0);
      }
      for (let q = 0; q < P; q++) {
        const end = r.u32[offsets + q + 1];
        const p = this.parts[q];
        for (let a = r.u32[offsets + q]; a < end; a += S) {
          const b = Math.min(end, a + S);
          p.i64.set(r.i64.subarray(grouped + a, grouped + b), p.keysAt / 8);
          if (vectors) p.f32.set(r.f32.subarray(groupedRows + a * dim, groupedRows + b * dim), p.rowsAt / 4);
          fn(p, a, b, q);
        }
      }
    }
  }

  /** Removes keys; returns how many were held. */
  erase(keys: BigInt64Array): number {
    this.checkOpen('erase');
    if (!(keys instanceof BigInt64Array)) throw new HpsError('BAD_KEY', `HostArena.erase: keys must be a BigInt64Array (engine/keys.ts normalizeKeys), got ${kind(keys)}`);
    let erased = 0;
    const touched = this.lockTouched(keys);
    try {
      this.forEachGroup(keys, null, (p, a, b) => { erased += p.k.hm_erase(H, p.keysAt, b - a); });
    } finally {
      this.unlockTouched(touched);
    }
    return erased;
  }

  /** Keys held (a snapshot per partition). */
  get size(): number {
    let s = 0;
    for (const p of this.parts) s += p.stat(Stat.Size);
    return s;
  }

  /** Every key held, partition by partition (each partition under its writer lock while it is read). */
  dumpKeys(): BigInt64Array {
    this.checkOpen('dumpKeys');
    const pieces: BigInt64Array[] = [];
    let total = 0;
    for (const p of this.parts) {
      p.lock();
      try {
        const slots = p.stat(Stat.IndexCapacity), keyIndex = p.keysAt / 8;
        for (let first = 0; first < slots; first += this.chunk) {
          const c = p.k.hm_dump(H, first, this.chunk, p.keysAt);
          if (c) pieces.push(p.i64.slice(keyIndex, keyIndex + c));
          total += c;
        }
      } finally {
        p.unlock();
      }
    }
    const out = new BigInt64Array(total);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /** Removes every key. The memory stays allocated (a wasm memory cannot shrink) and is reused. */
  clear(): void {
    this.checkOpen('clear');
    for (let q = 0; q < this.numPartitions; q++) {
      const p = this.parts[q];
      p.lock();
      let rc: number;
      try {
        rc = p.k.hm_clear(H);
      } finally {
        p.unlock();
      }
      if (rc) throw new HpsError('CAPACITY', `HostArena.clear: partition ${q} has no memory left for a new index`);
    }
  }

  /** Bytes of memory the partitions hold (their shared memories' sizes). */
  memoryBytes(): number {
    let bytes = 0;
    for (const m of this.memories) bytes += m.buffer.byteLength;
    return bytes;
  }

  stats(): HostArenaStats {
    const s: HostArenaStats = { size: 0, hits: 0, misses: 0, insertions: 0, replacements: 0, evictions: 0, erasures: 0, bytes: this.memoryBytes() };
    for (const p of this.parts) {
      s.size += p.stat(Stat.Size);
      s.hits += p.stat(Stat.Hits);
      s.misses += p.stat(Stat.Misses);
      s.insertions += p.stat(Stat.Insertions);
      s.replacements += p.stat(Stat.Replacements);
      s.evictions += p.stat(Stat.Evictions);
      s.erasures += p.stat(Stat.Erasures);
    }
    return s;
  }

  /** Internal sizes of partition `q` (index capacity, use and slot bytes, slab rows and row bytes) for docs and benchmarks. */
  layout(q = 0): { indexCapacity: number; indexUsed: number; slotBytes: number; rowsUsed: number; rowBytes: number; chunkRows: number; allocatedBytes: number } {
    const p = this.parts[q];
    return {
      indexCapacity: p.stat(Stat.IndexCapacity), indexUsed: p.stat(Stat.IndexUsed), slotBytes: p.stat(Stat.SlotBytes),
      rowsUsed: p.stat(Stat.RowsUsed), rowBytes: p.stat(Stat.RowBytes), chunkRows: p.stat(Stat.ChunkRows), allocatedBytes: p.stat(Stat.Top),
    };
  }

  /** Gives this thread's reader slots back. The arena lives on in other threads that attached it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.parts) p.release();
  }

  /**
   * Gives back the reader slots of views a thread held when it ended without close() (a worker that
   * was terminated or crashed): call it from the thread that saw the worker exit, with its threadId.
   * Returns the number of slots released over all partitions.
   */
  releaseThread(threadId: number): number {
    let n = 0;
    for (const p of this.parts) n += p.k.hm_release_owner(H, threadId + 1);
    return n;
  }

  private checkOpen(op: string): void {
    if (this.closed) throw new HpsError('CLOSED', `HostArena.${op}: this arena view was closed`);
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'an object';
}

function roundUp16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
