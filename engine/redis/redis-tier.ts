import type { Cluster } from 'ioredis';
import type { OverflowPolicy } from '../config/types.js';
import type { KeyType } from '../keys.js';
import { FaultGate } from './fault-gate.js';
import { defineFetch, fetchFields, isBadSize, isFound } from './fetch-script.js';
import { groupByPartition, type Grouped } from './group.js';
import { keyBytes, keyField, partitionHash, tableTag, timeField } from './layout.js';
import { resolveOverflow } from './overflow.js';

/** Writes (large pipelines, overflow scans) get this many times the lookup time limit. */
const WRITE_TIMEOUT_FACTOR = 5;

export interface RedisTierOptions {
  /** Cluster clients (`num_node_connections`); partition p uses client p % clients.length. */
  clients: Cluster[];
  model: string;
  table: string;
  dim: number;
  keyType: KeyType;
  numPartitions: number;
  maxGetBatchSize: number;
  maxSetBatchSize: number;
  overflowMargin: number;
  overflowPolicy: OverflowPolicy;
  overflowResolutionTarget: number;
  refreshTimeAfterFetch: boolean;
  /** Per-command time limit and how long a failed partition is skipped before it is probed again. */
  timeoutMs: number;
  retryAfterMs: number;
  log: (line: string) => void;
}

export interface RedisTierStats {
  hits: number;
  misses: number;
  /** Commands that failed or timed out. */
  faults: number;
  /** Keys that skipped Redis because their partition was down. */
  skippedKeys: number;
  /** Partitions down now. */
  partitionsDown: number;
  /** Rows removed by overflow handling. */
  evictions: number;
  /** Values of the wrong size found in Redis (read as misses). */
  badValues: number;
}

/**
 * The volatile tier on a Redis Cluster, in HPS's layout (layout.ts): a table's keys are spread over
 * `numPartitions` hashes by HPS's partition hash, read with HMGET (inside a script that answers a chunk
 * in one string: fetch-script.ts) and written with HSET, in chunks of
 * max_get/max_set_batch_size, every partition concurrently. Overflow is handled per partition after a
 * write (overflow.ts). A failing partition never fails a call: its keys read as misses and its writes
 * are remembered, and those keys are deleted before the partition is read again, so that a value
 * written while it was unreachable can never come back stale.
 */
export class RedisTier {
  readonly tag: string;
  readonly keyType: KeyType;
  private readonly width: number;
  private readonly rowBytes: number;
  private readonly gate: FaultGate;
  private readonly vHashes: string[];
  private readonly tHashes: string[];
  /** Keys whose write or erase failed, per partition ('all' after a failed clear). */
  private readonly dirty = new Map<number, Set<bigint> | 'all'>();
  private readonly resolving = new Set<number>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private badValues = 0;
  private closed = false;

  constructor(private readonly o: RedisTierOptions) {
    this.tag = tableTag(o.model, o.table);
    this.keyType = o.keyType;
    this.width = keyBytes(o.keyType);
    this.rowBytes = o.dim * 4;
    this.gate = new FaultGate(o.numPartitions, `model ${o.model} table ${o.table} (${this.tag})`, o.log, o.timeoutMs, o.retryAfterMs);
    this.vHashes = Array.from({ length: o.numPartitions }, (_, p) => partitionHash(this.tag, p, 'v'));
    this.tHashes = Array.from({ length: o.numPartitions }, (_, p) => partitionHash(this.tag, p, 't'));
    for (const c of o.clients) defineFetch(c);
  }

  get dim(): number {
    return this.o.dim;
  }

  /**
   * Writes row i of `out` for every keys[i] found; returns the ascending positions not found (missing,
   * or in a partition that is down or failed now).
   */
  async lookup(keys: BigInt64Array, out: Float32Array): Promise<Uint32Array> {
    const found = new Uint8Array(keys.length);
    if (keys.length > 0 && !this.closed) {
      const g = groupByPartition(keys, this.o.numPartitions);
      const keyBuf = bytesOf(keys);
      const outWords = new Uint32Array(out.buffer, out.byteOffset, out.length);
      await this.eachPartition(g, (p, positions) => this.fetchPartition(p, positions, keys, keyBuf, outWords, found));
    }
    let nMissing = 0;
    for (let i = 0; i < found.length; i++) nMissing += 1 - found[i];
    const missing = new Uint32Array(nMissing);
    for (let i = 0, m = 0; i < found.length; i++) if (found[i] === 0) missing[m++] = i;
    this.hits += keys.length - nMissing;
    this.misses += nMissing;
    return missing;
  }

  /** Inserts or replaces rows (`vectors` is keys.length x dim), then resolves any overflow. */
  async insert(keys: BigInt64Array, vectors: Float32Array): Promise<void> {
    if (keys.length === 0 || this.closed) return;
    const g = groupByPartition(keys, this.o.numPartitions);
    const keyBuf = bytesOf(keys);
    const rows = bytesOf(vectors);
    await this.eachWrite(g, keys, async (p, positions) => {
      const size = await this.writePartition(p, positions, keyBuf, rows);
      if (size > this.o.overflowMargin) await this.overflow(p);
    });
  }

  /** Removes keys; returns how many were present (in the partitions that answered). */
  async erase(keys: BigInt64Array): Promise<number> {
    if (keys.length === 0 || this.closed) return 0;
    const g = groupByPartition(keys, this.o.numPartitions);
    const keyBuf = bytesOf(keys);
    let removed = 0;
    await this.eachWrite(g, keys, async (p, positions) => {
      for (let at = 0; at < positions.length; at += this.o.maxSetBatchSize) {
        const fields = this.fields(keyBuf, positions.subarray(at, at + this.o.maxSetBatchSize));
        const client = this.client(p);
        const [n] = await this.gate.bounded(Promise.all([client.hdel(this.vHashes[p], ...fields), client.hdel(this.tHashes[p], ...fields)]), WRITE_TIMEOUT_FACTOR);
        removed += n;
      }
    });
    return removed;
  }

  /** Deletes every partition of the table. */
  async clear(): Promise<void> {
    await Promise.all(this.vHashes.map(async (_, p) => {
      try {
        await this.gate.bounded(this.client(p).del(this.vHashes[p], this.tHashes[p]), WRITE_TIMEOUT_FACTOR);
        this.dirty.delete(p);
      } catch (err) {
        this.dirty.set(p, 'all');
        this.gate.failed(p, err);
      }
    }));
  }

  /** Rows stored, over every partition that answers. */
  async size(): Promise<number> {
    const sizes = await Promise.all(this.vHashes.map((h, p) => this.gate.bounded(this.client(p).hlen(h)).catch(() => 0)));
    return sizes.reduce((a, b) => a + b, 0);
  }

  stats(): RedisTierStats {
    return {
      hits: this.hits,
      misses: this.misses,
      faults: this.gate.faults,
      skippedKeys: this.gate.skippedKeys,
      partitionsDown: this.gate.downCount(),
      evictions: this.evictions,
      badValues: this.badValues,
    };
  }

  close(): void {
    this.closed = true;
  }

  private client(p: number): Cluster {
    return this.o.clients[p % this.o.clients.length];
  }

  private fields(keyBuf: Buffer, positions: Uint32Array): Buffer[] {
    const fields = new Array<Buffer>(positions.length);
    for (let i = 0; i < positions.length; i++) fields[i] = keyField(keyBuf, positions[i], this.width);
    return fields;
  }

  /** Runs `work` for every partition with keys whose gate is open; a failure closes that partition's gate. */
  private async eachPartition(g: Grouped, work: (p: number, positions: Uint32Array) => Promise<void>): Promise<void> {
    const tasks: Promise<void>[] = [];
    for (let p = 0; p < this.o.numPartitions; p++) {
      const positions = g.positions.subarray(g.starts[p], g.starts[p + 1]);
      if (positions.length === 0) continue;
      if (!this.gate.open(p)) {
        this.gate.skippedKeys += positions.length;
        continue;
      }
      tasks.push((async () => {
        try {
          await this.clean(p);
          await work(p, positions);
          this.gate.succeeded(p);
        } catch (err) {
          this.gate.failed(p, err);
        }
      })());
    }
    await Promise.all(tasks);
  }

  /** eachPartition for writes: the keys of a partition that is down or fails are remembered as dirty. */
  private async eachWrite(g: Grouped, keys: BigInt64Array, work: (p: number, positions: Uint32Array) => Promise<void>): Promise<void> {
    const attempted = new Set<number>();
    await this.eachPartition(g, async (p, positions) => {
      attempted.add(p);
      try {
        await work(p, positions);
      } catch (err) {
        this.markDirty(p, keys, positions);
        throw err;
      }
    });
    for (let p = 0; p < this.o.numPartitions; p++) {
      if (!attempted.has(p) && g.starts[p + 1] > g.starts[p]) this.markDirty(p, keys, g.positions.subarray(g.starts[p], g.starts[p + 1]));
    }
  }

  private markDirty(p: number, keys: BigInt64Array, positions: Uint32Array): void {
    let set = this.dirty.get(p);
    if (set === 'all') return;
    if (!set) this.dirty.set(p, (set = new Set()));
    for (const i of positions) set.add(keys[i]);
  }

  /** Deletes what was written to partition p while it failed, before it is used again. */
  private async clean(p: number): Promise<void> {
    const dirty = this.dirty.get(p);
    if (!dirty) return;
    const client = this.client(p);
    if (dirty === 'all') {
      await this.gate.bounded(client.del(this.vHashes[p], this.tHashes[p]), WRITE_TIMEOUT_FACTOR);
    } else {
      const keys = BigInt64Array.from(dirty);
      const buf = bytesOf(keys);
      const all = Uint32Array.from(keys.keys());
      for (let at = 0; at < all.length; at += this.o.maxSetBatchSize) {
        const fields = this.fields(buf, all.subarray(at, at + this.o.maxSetBatchSize));
        await this.gate.bounded(Promise.all([client.hdel(this.vHashes[p], ...fields), client.hdel(this.tHashes[p], ...fields)]), WRITE_TIMEOUT_FACTOR);
      }
    }
    this.dirty.delete(p);
  }

  private async fetchPartition(p: number, positions: Uint32Array, keys: BigInt64Array, keyBuf: Buffer, out: Uint32Array, found: Uint8Array): Promise<void> {
    const client = this.client(p);
    const rowBytes = this.rowBytes;
    const dim = this.o.dim;
    const chunks: Promise<void>[] = [];
    for (let at = 0; at < positions.length; at += this.o.maxGetBatchSize) {
      const chunk = positions.subarray(at, at + this.o.maxGetBatchSize);
      const fields = this.packFields(keys, chunk);
      chunks.push(this.gate.bounded(fetchFields(client, this.vHashes[p], fields, this.width, rowBytes)).then(({ status, rows }) => {
        // Rows are copied as 32-bit words (exact bits, no per-row Buffer call), from an aligned view.
        const words = wordsOf(rows);
        let r = 0;
        let touched: number[] | null = null;
        for (let i = 0; i < chunk.length; i++) {
          if (isFound(status, i)) {
            const from = r * dim;
            const to = chunk[i] * dim;
            for (let j = 0; j < dim; j++) out[to + j] = words[from + j];
            r++;
            found[chunk[i]] = 1;
            (touched ??= []).push(chunk[i]);
          } else if (isBadSize(status, i)) {
            this.badValues++;
          }
        }
        if (touched && this.tracksReads()) this.touch(p, touched.map((i) => keyField(keyBuf, i, this.width)));
      }));
    }
    await Promise.all(chunks);
  }

  /** The fields of keys at `positions`, concatenated (`width` bytes each: the key's low bytes, little-endian). */
  private packFields(keys: BigInt64Array, positions: Uint32Array): Buffer {
    const halves = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
    const perKey = this.width / 4;
    const packed = new Uint32Array(positions.length * perKey);
    for (let i = 0; i < positions.length; i++) {
      const at = 2 * positions[i];
      packed[i * perKey] = halves[at];
      if (perKey === 2) packed[i * perKey + 1] = halves[at + 1];
    }
    return Buffer.from(packed.buffer);
  }

  /** Whether reads update the overflow metadata (see touch). */
  private tracksReads(): boolean {
    return this.o.overflowPolicy === 'evict_least_used' || (this.o.overflowPolicy === 'evict_oldest' && this.o.refreshTimeAfterFetch);
  }

  /**
   * Overflow metadata of rows just read, off the request path: evict_least_used counts every read (as
   * HPS does); evict_oldest refreshes the time only with refresh_time_after_fetch.
   */
  private touch(p: number, fields: Buffer[]): void {
    if (fields.length === 0) return;
    const client = this.client(p);
    const h = this.tHashes[p];
    let done: Promise<unknown>;
    if (this.o.overflowPolicy === 'evict_least_used') done = Promise.all(fields.map((f) => client.hincrby(h, f, 1)));
    else if (this.o.overflowPolicy === 'evict_oldest' && this.o.refreshTimeAfterFetch) done = client.hset(h, ...withValue(fields, timeField(Date.now() / 1000)));
    else return;
    done.catch(() => { this.gate.faults++; });
  }

  /** Writes rows of `positions` to partition p; returns the partition's size afterwards. */
  private async writePartition(p: number, positions: Uint32Array, keyBuf: Buffer, rows: Buffer): Promise<number> {
    const client = this.client(p);
    let size = 0;
    for (let at = 0; at < positions.length; at += this.o.maxSetBatchSize) {
      const chunk = positions.subarray(at, at + this.o.maxSetBatchSize);
      const args: Buffer[] = new Array(chunk.length * 2);
      const fields = this.fields(keyBuf, chunk);
      for (let i = 0; i < chunk.length; i++) {
        args[2 * i] = fields[i];
        args[2 * i + 1] = rows.subarray(chunk[i] * this.rowBytes, (chunk[i] + 1) * this.rowBytes);
      }
      const meta: Promise<unknown>[] = [];
      if (this.o.overflowPolicy === 'evict_least_used') meta.push(...fields.map((f) => client.hincrby(this.tHashes[p], f, 1)));
      if (this.o.overflowPolicy === 'evict_oldest') meta.push(client.hset(this.tHashes[p], ...withValue(fields, timeField(Date.now() / 1000))));
      const [, , len] = await this.gate.bounded(Promise.all([client.hset(this.vHashes[p], ...args), Promise.all(meta), client.hlen(this.vHashes[p])]), WRITE_TIMEOUT_FACTOR);
      size = len;
    }
    return size;
  }

  private async overflow(p: number): Promise<void> {
    if (this.resolving.has(p)) return;
    this.resolving.add(p);
    try {
      const target = Math.floor(this.o.overflowMargin * this.o.overflowResolutionTarget);
      const removed = await this.gate.bounded(resolveOverflow(this.client(p), this.vHashes[p], this.tHashes[p], target, this.o.overflowPolicy, this.o.maxSetBatchSize), WRITE_TIMEOUT_FACTOR);
      this.evictions += removed;
    } finally {
      this.resolving.delete(p);
    }
  }
}

function bytesOf(a: BigInt64Array | Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** `bytes` as 32-bit words: a view when aligned, else an aligned copy. */
function wordsOf(bytes: Buffer): Uint32Array {
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const words = new Uint32Array(bytes.length / 4);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

function withValue(fields: Buffer[], value: Buffer): Buffer[] {
  const args = new Array<Buffer>(fields.length * 2);
  for (let i = 0; i < fields.length; i++) {
    args[2 * i] = fields[i];
    args[2 * i + 1] = value;
  }
  return args;
}
