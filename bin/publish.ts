import type { Command } from 'commander';
import { HpsError, loadConfig, openImportSource, UpdatePublisher } from '../engine/index.js';

/**
 * `hps publish`: sends rows from a JSONL file or a pair of .npy files to a table's update stream
 * (update_source redis_stream), for every serving process to apply (docs/scale-out.md).
 */
export function addPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('publish row updates to a table\'s Redis stream (update_source redis_stream), applied by every serving process')
    .requiredOption('-c, --config <ps.json>', 'HPS ps.json or a JSON file of typed options, with an update_source')
    .requiredOption('-m, --model <name>', 'model name')
    .requiredOption('-t, --table <name|index>', 'table name or index')
    .option('--jsonl <file>', 'JSON Lines: {"key": 1, "vector": [...]} per line')
    .option('--npy <files...>', 'keys.npy and vectors.npy')
    .action(async (o) => {
      if (Boolean(o.jsonl) === Boolean(o.npy)) throw new HpsError('BAD_FILE', 'publish: give exactly one of --jsonl, --npy');
      if (o.npy && o.npy.length !== 2) throw new HpsError('BAD_FILE', `publish --npy: expected two files (keys.npy vectors.npy), got ${o.npy.length}`);
      const config = await loadConfig(o.config);
      const model = config.models.find((m) => m.name === o.model);
      const table = /^\d+$/.test(o.table) ? model?.tables[Number(o.table)] : model?.tables.find((t) => t.name === o.table);
      if (!model || !table) throw new HpsError('UNKNOWN_TABLE', `publish: no table ${o.table} in model ${o.model} of ${o.config}`);
      const source = await openImportSource(o.jsonl ? { format: 'jsonl', file: o.jsonl } : { format: 'npy', keys: o.npy[0], vectors: o.npy[1] }, table.dim);
      const publisher = await UpdatePublisher.open(o.config);
      let rows = 0;
      let last = '';
      try {
        for await (const chunk of source.chunks(config.updateSource!.maxBatchSize, table.keyType)) {
          last = await publisher.publish(model.name, table.name, chunk.keys, chunk.vectors);
          rows += chunk.keys.length;
        }
      } finally {
        await publisher.close();
      }
      console.log(`published ${rows} rows to ${model.name}/${table.name}; last stream ID ${last || '(none)'}`);
    });
}
