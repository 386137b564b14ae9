import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HpsError, loadConfig, LmdbStore } from '../engine/index.js';
import { verifyTable } from '../engine/lmdb/verify-table.js';
import { progressBar } from '../engine/import/progress.js';

/** Tables at least this large get progress lines on stderr when it is not a terminal (a bar when it is). */
const PROGRESS_ROWS = 1_000_000;

/**
 * `hps check`: opens every model's persistent store read-only (the open checks the file and the table
 * metadata), reads every table and compares its row count and checksum with those recorded at the last
 * import or write. Prints one line per table, as SQLite's `PRAGMA integrity_check` does, then `ok` or the
 * number of problems; exits 1 on any problem.
 */
export function addCheckCommand(program: Command): void {
  program
    .command('check')
    .description('verify every table of the persistent store: row counts and checksums recorded at import; exit 1 on a problem')
    .requiredOption('-c, --config <ps.json>', 'HPS ps.json or a JSON file of typed options')
    .option('-m, --model <name>', 'check only this model')
    .action(async (o) => {
      const config = await loadConfig(o.config);
      if (config.persistentDb.type !== 'lmdb') throw new HpsError('BAD_CONFIG', `check: ${o.config} has no persistent_db of type lmdb; nothing to check`);
      const models = config.models.filter((m) => o.model === undefined || m.name === o.model);
      if (models.length === 0) throw new HpsError('UNKNOWN_MODEL', `check: no model ${o.model} in ${o.config}; models: ${config.models.map((m) => m.name).join(', ')}`);
      let tables = 0;
      let problems = 0;
      for (const model of models) {
        if (!existsSync(join(config.persistentDb.path, model.name))) {
          console.log(`${model.name}: no persistent store yet at ${join(config.persistentDb.path, model.name)} (nothing to check)`);
          continue;
        }
        let store: LmdbStore;
        try {
          store = LmdbStore.open(config.persistentDb.path, model.name, { readOnly: true });
        } catch (e) {
          problems++;
          console.log(`${model.name}: ${e instanceof HpsError ? e.code : 'ERROR'}: ${(e as Error).message}`);
          continue;
        }
        try {
          for (const meta of store.tables()) {
            tables++;
            const label = `${model.name}/${meta.name}`;
            const shown = progress(label, meta.count);
            const v = verifyTable(store, meta.name, shown.update);
            shown.stop();
            if (v.problem) {
              problems++;
              console.log(`${label}: MISMATCH: ${v.problem}`);
            } else if (v.recordedChecksum === null) {
              console.log(`${label}: ok (${v.rows} rows; no checksum recorded: last written before checksums were kept, so only the rows were counted; import it again to record one)`);
            } else {
              console.log(`${label}: ok (${v.rows} rows, checksum ${v.checksum})`);
            }
          }
        } finally {
          await store.close();
        }
      }
      console.log(problems === 0 ? `ok (${tables} tables)` : `${problems} problem${problems === 1 ? '' : 's'} in ${tables} tables`);
      if (problems > 0) process.exitCode = 1;
    });
}

/** A progress bar on a terminal; on other stderr, a line per tenth of a big table. */
function progress(label: string, total: number): { update(rows: number): void; stop(): void } {
  if (process.stderr.isTTY) return progressBar(`check ${label}`, total, true);
  let next = total / 10;
  return {
    update(rows) {
      if (total < PROGRESS_ROWS || rows < next) return;
      process.stderr.write(`check ${label}: ${rows} of ${total} rows\n`);
      next += total / 10;
    },
    stop() {},
  };
}
