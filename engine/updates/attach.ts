import type { ResolvedConfig, TableConfig } from '../config/types.js';
import { HpsError } from '../errors.js';
import type { LmdbStore } from '../lmdb/lmdb-store.js';
import type { TableRuntime } from '../pipeline/table-runtime.js';
import { tableTag } from '../redis/layout.js';
import { UpdateConsumer, type UpdateTarget } from './consumer.js';
import { streamKey } from './message.js';

/** A served table as the update source sees it. */
export interface ServedTable {
  model: string;
  table: TableConfig;
  store: LmdbStore | null;
  runtime: TableRuntime;
}

/**
 * Starts the config's redis_stream update source for every served table: updates go through the
 * table's own update path (L3 with the stream ID in the same transaction, then L2/Redis, then L1).
 */
export async function startUpdates(config: ResolvedConfig, tables: ServedTable[], log: (line: string) => void): Promise<UpdateConsumer> {
  const source = config.updateSource!;
  const targets = tables.map(({ model, table, store, runtime }): UpdateTarget => {
    if (store?.readOnly) {
      throw new HpsError('BAD_CONFIG', `update_source: model ${model} table ${table.name}: persistent_db is read-only (read_only: true), so updates cannot be applied; a serving process that takes updates needs a writable store`);
    }
    const stream = streamKey(source.streamPrefix, model, table.name);
    const markName = `stream:${stream}`;
    return {
      model,
      table: table.name,
      tag: tableTag(model, table.name),
      stream,
      dim: table.dim,
      keyType: table.keyType,
      storedId: () => store?.mark(markName),
      apply: (keys, vectors, mark) => runtime.update(keys, vectors, store ? mark : null),
    };
  });
  return UpdateConsumer.start(source, config.baseDir, targets, log);
}
