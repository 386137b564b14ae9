// A child process for the killed-import test: imports a HugeCTR folder in small transactions (in
// memory, or in runs spilled to files when the budget is 0) and prints a line after every chunk, so
// the parent can kill it mid-way.
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../../engine/import/index.js';

const [root, model, table, folder, budget] = process.argv.slice(2);
const store = LmdbStore.open(root, model);
await importTable(store, table, openHugeCtrFolder(folder), {
  keyType: 'int64',
  progress: false,
  memoryBudget: Number(budget),
  runRows: 20000,
  chunkRows: 5000,
  onProgress: (phase, rows) => process.stdout.write(`${phase} ${rows}\n`),
});
process.stdout.write('done\n');
await store.close();
