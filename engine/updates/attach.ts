import type { ResolvedConfig, TableConfig } from '../config/types.js';
import { HpsError } from '../errors.js';
import type { StoreMark } from '../lmdb/lmdb-store.js';
import { tableTag } from '../redis/layout.js';
import { redisEndpoint } from '../redis/open.js';
import { UpdateConsumer, type UpdateTarget } from './consumer.js';
import { streamKey } from './message.js';

/**
 * How the update source reaches the tables it feeds. Both go through the table as it is served at the
 * time (a model may be reloaded meanwhile): `storedId` reads a mark from its L3, `apply` is the
 * table's update path (L3 with `mark` in the same transaction, then L2/Redis, then L1).
 */
export interface UpdateSink {
  storedId(model: string, table: string, markName: string): string | undefined;
  apply(model: string, table: string, keys: BigInt64Array, vectors: Float32Array, mark: StoreMark): Promise<void>;
}

/** Starts the config's redis_stream update source for every table of `tables`. */
export async function startUpdates(
  config: ResolvedConfig, tables: { model: string; table: TableConfig }[], sink: UpdateSink, log: (line: string) => void,
): Promise<UpdateConsumer> {
  if (config.persistentDb.type === 'lmdb' && config.persistentDb.readOnly) {
    throw new HpsError('BAD_CONFIG', 'update_source: persistent_db is read-only (read_only: true), so updates could not be applied; a serving process that takes updates needs a writable store');
  }
  const source = config.updateSource!;
  const targets = tables.map(({ model, table }): UpdateTarget => {
    const stream = streamKey(source.streamPrefix, model, table.name);
    const markName = `stream:${stream}`;
    return {
      model,
      table: table.name,
      tag: tableTag(model, table.name),
      stream,
      dim: table.dim,
      keyType: table.keyType,
      storedId: () => sink.storedId(model, table.name, markName),
      apply: (keys, vectors, mark) => sink.apply(model, table.name, keys, vectors, mark),
    };
  });
  return UpdateConsumer.start(source, redisEndpoint(config, source.addresses, 'update_source.brokers'), targets, log);
}
