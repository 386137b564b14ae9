import type { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../config/index.js';
import type { HpsOptions } from '../config/options.js';
import type { ResolvedConfig, TableConfig } from '../config/types.js';
import { HpsError } from '../errors.js';
import { normalizeKeys, type KeyInput } from '../keys.js';
import { checkVectors } from '../lmdb/lmdb-store.js';
import { connectAny } from '../redis/connect.js';
import { tableTag } from '../redis/layout.js';
import { redisEndpoint } from '../redis/open.js';
import { encodeMessage, streamKey } from './message.js';

/**
 * Publishes row updates to the tables' Redis streams (the config's `update_source`), in the message
 * format of message.ts, for every serving process to apply. A publish of more than `max_batch_size`
 * rows is split into several messages. Resolves once Redis acknowledged every message (XADD), so the
 * rows will reach every process that reads the stream, also across its restarts.
 */
export class UpdatePublisher {
  private constructor(private readonly config: ResolvedConfig, private readonly client: Cluster | Redis) {}

  /** Opens a publisher for a ps.json path, a ps.json object or typed options with an `update_source`. */
  static async open(config: string | HpsOptions | object): Promise<UpdatePublisher> {
    const resolved = await loadConfig(config);
    const source = resolved.updateSource;
    if (!source) {
      throw new HpsError('BAD_CONFIG', 'UpdatePublisher: the configuration has no update_source of type "redis_stream" to publish to');
    }
    const client = await connectAny(redisEndpoint(resolved, source.addresses, 'update_source.brokers'));
    return new UpdatePublisher(resolved, client);
  }

  /** Publishes `vectors` (keys.length x dim) for `keys` of `model`'s `table` (name or index); resolves to the last stream ID. */
  async publish(model: string, table: string | number, keys: KeyInput, vectors: Float32Array): Promise<string> {
    const t = this.table(model, table);
    const k = normalizeKeys(keys, t.keyType, 'keys');
    checkVectors(model, t, k.length, vectors);
    const stream = streamKey(this.config.updateSource!.streamPrefix, model, t.name);
    const tag = tableTag(model, t.name);
    const step = this.config.updateSource!.maxBatchSize;
    let id = '';
    for (let at = 0; at < k.length || at === 0; at += step) {
      const n = Math.min(step, k.length - at);
      id = (await this.client.xadd(stream, '*', ...encodeMessage(tag, k.subarray(at, at + n), vectors.subarray(at * t.dim, (at + n) * t.dim)))) as string;
      if (k.length === 0) break;
    }
    return id;
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private table(model: string, table: string | number): TableConfig {
    const m = this.config.models.find((x) => x.name === model);
    if (!m) throw new HpsError('UNKNOWN_MODEL', `model ${JSON.stringify(model)} is not in the configuration; known models: ${this.config.models.map((x) => x.name).join(', ')}`);
    const t = typeof table === 'number' ? m.tables[table] : m.tables.find((x) => x.name === table);
    if (!t) throw new HpsError('UNKNOWN_TABLE', `model ${model} has no table ${JSON.stringify(table)}; known tables: ${m.tables.map((x, i) => `${i}: ${x.name}`).join(', ')}`);
    return t;
  }
}
