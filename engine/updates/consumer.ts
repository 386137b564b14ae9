import type { Cluster, Redis } from 'ioredis';
import type { UpdateSourceConfig } from '../config/types.js';
import type { KeyType } from '../keys.js';
import type { StoreMark } from '../lmdb/lmdb-store.js';
import { connectAny, type RedisEndpoint } from '../redis/connect.js';
import { decodeMessage, lastWins } from './message.js';

/** One table an update source feeds. */
export interface UpdateTarget {
  model: string;
  table: string;
  /** The table's tag and its stream key. */
  tag: string;
  stream: string;
  dim: number;
  keyType: KeyType;
  /** The last applied stream ID stored in L3, or undefined (no L3, or nothing applied yet). */
  storedId(): string | undefined;
  /** Applies rows like update(): L3 (with `mark` in the same transaction when there is L3), then L2/Redis, then L1. */
  apply(keys: BigInt64Array, vectors: Float32Array, mark: StoreMark): Promise<void>;
}

export interface UpdateStats {
  /** Messages applied and rows they held. */
  messages: number;
  rows: number;
  /** Messages skipped: a bad length or field, or another table's. */
  badMessages: number;
  unknownTable: number;
  /** Last applied (or skipped) stream ID, per stream. */
  lastIds: Record<string, string>;
}

/** Called after a batch of messages was applied (visible to lookups), with the last ID and the rows. */
export type AppliedListener = (stream: string, lastId: string, rows: number) => void;

/** How long a failed read waits before it is tried again. */
const RETRY_MS = 500;

/**
 * The Redis Streams update source: one reader per table, each on its own connection (XREAD BLOCK holds
 * it), reading from the ID stored in L3 onwards. A batch of messages (at most `max_batch_size` rows,
 * and at least one message) is applied as one update whose L3 transaction also stores the batch's last
 * stream ID, so a process that crashes resumes exactly after what it applied. Every process reads every
 * message (no consumer group). Bad messages are counted, logged once each with their ID, and skipped.
 */
export class UpdateConsumer {
  private closed = false;
  private readonly loops: Promise<void>[] = [];
  private readonly clients: (Cluster | Redis)[] = [];
  private readonly listeners: AppliedListener[] = [];
  private readonly counters: UpdateStats = { messages: 0, rows: 0, badMessages: 0, unknownTable: 0, lastIds: {} };

  private constructor(private readonly config: UpdateSourceConfig, private readonly log: (line: string) => void) {}

  /** Connects one reader per target to `endpoint` and starts reading. A server that cannot be reached is an HpsError. */
  static async start(config: UpdateSourceConfig, endpoint: RedisEndpoint, targets: UpdateTarget[], log: (line: string) => void): Promise<UpdateConsumer> {
    const consumer = new UpdateConsumer(config, log);
    try {
      for (const t of targets) {
        const client = await connectAny(endpoint, false);
        consumer.clients.push(client);
        consumer.loops.push(consumer.run(client, t));
      }
    } catch (err) {
      await consumer.close();
      throw err;
    }
    return consumer;
  }

  onApplied(listener: AppliedListener): void {
    this.listeners.push(listener);
  }

  stats(): UpdateStats {
    return { ...this.counters, lastIds: { ...this.counters.lastIds } };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.clients) c.disconnect();
    await Promise.allSettled(this.loops);
  }

  private async run(client: Cluster | Redis, t: UpdateTarget): Promise<void> {
    let last = t.storedId() ?? '0';
    this.counters.lastIds[t.stream] = last;
    let failing = false;
    while (!this.closed) {
      let reply: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        reply = await client.xreadBuffer('COUNT', this.config.maxBatchSize, 'BLOCK', this.config.pollTimeoutMs, 'STREAMS', t.stream, last) as typeof reply;
        if (failing) this.log(`hps: update stream ${t.stream}: reading again`);
        failing = false;
      } catch (err) {
        if (this.closed) return;
        if (!failing) this.log(`hps: update stream ${t.stream}: read failed (${(err as Error).message}); retrying every ${RETRY_MS} ms`);
        failing = true;
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      if (!reply || this.closed) continue;
      try {
        last = await this.applyEntries(t, reply[0][1], last);
      } catch (err) {
        // Nothing past the stored ID is lost: the batch is read and applied again.
        if (this.closed) return;
        this.log(`hps: update stream ${t.stream}: applying updates failed (${(err as Error).message}); retrying from ${t.storedId() ?? last}`);
        last = t.storedId() ?? last;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /** Applies entries in batches of at most max_batch_size rows; returns the last ID handled. */
  private async applyEntries(t: UpdateTarget, entries: [Buffer, Buffer[]][], last: string): Promise<string> {
    let keys: BigInt64Array[] = [];
    let vectors: Float32Array[] = [];
    let rows = 0;
    let messages = 0;
    let batchId = last;
    const flush = async () => {
      if (batchId === last) return;
      const k = concatKeys(keys, rows);
      const v = concatVectors(vectors, rows * t.dim);
      const merged = lastWins(k, v, t.dim);
      // Stored even for a batch of bad messages only, so that they are not read again after a restart.
      await t.apply(merged.keys, merged.vectors, { name: `stream:${t.stream}`, value: batchId });
      // Counted once applied (visible to lookups).
      this.counters.messages += messages;
      this.counters.rows += rows;
      this.counters.lastIds[t.stream] = batchId;
      last = batchId;
      for (const l of this.listeners) l(t.stream, batchId, rows);
      keys = [];
      vectors = [];
      rows = 0;
      messages = 0;
    };
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      const d = decodeMessage(fields, t.tag, t.dim, t.keyType);
      if ('problem' in d) {
        if (d.unknownTable) this.counters.unknownTable++;
        else this.counters.badMessages++;
        this.log(`hps: update stream ${t.stream}: message ${id} skipped: it ${d.problem}`);
        batchId = id;
        continue;
      }
      if (rows > 0 && rows + d.keys.length > this.config.maxBatchSize) await flush();
      keys.push(d.keys);
      vectors.push(d.vectors);
      rows += d.keys.length;
      messages++;
      batchId = id;
    }
    await flush();
    return last;
  }
}

function concatKeys(parts: BigInt64Array[], n: number): BigInt64Array {
  if (parts.length === 1) return parts[0];
  const out = new BigInt64Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function concatVectors(parts: Float32Array[], n: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
