import { readdirSync } from 'node:fs';
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';
import { exportHugeCtrFolder } from '../../engine/import/index.js';
import { HpsError } from '../../engine/errors.js';

// Exports table `table` of model `model` (store at `root`) to `folder` and prints one JSON line: the
// report, or the error's code and message, and what the folder holds afterwards.
const [root, model, table, folder] = process.argv.slice(2);
const store = LmdbStore.open(root, model, { readOnly: true });
let result: object;
try {
  const report = await exportHugeCtrFolder(store, table, folder);
  result = { rows: report.rows };
} catch (e) {
  result = e instanceof HpsError ? { code: e.code, message: e.message } : { raw: String(e) };
}
await store.close();
console.log(JSON.stringify({ ...result, left: readdirSync(folder) }));
