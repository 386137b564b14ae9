// Child processes of the reliability tests, one role per first argument. With HPS_TEST_WAIT set, a
// child starts its work only once a line arrives on stdin, so a parent can time it without waiting
// for node to start.
//   import ROOT MODEL TABLE FOLDER   imports a HugeCTR folder in small, slowed-down transactions, printing
//                                    a line per chunk; exits 3 with the message on an HpsError
//   open ROOT MODEL                  opens the store writable (as `hps info` or a starting server does),
//                                    prints its tables as JSON and closes
//   write ROOT MODEL TABLE DIM SEED  applies the WriteSequence of that seed (over the table as it is),
//                                    one write per line read on stdin, printing "done N" after each
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../../engine/import/index.js';
import { HpsError } from '../../engine/errors.js';
import { WriteSequence } from './reliability-writes.js';
import { tempDir } from './lmdb-random.js';

const [role, root, model, table, folder] = process.argv.slice(2);
const pause = new Int32Array(new SharedArrayBuffer(4));

const slow = !process.env.HPS_TEST_FAST;

if (process.env.HPS_TEST_WAIT) {
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}

try {
  if (role === 'import') {
    const store = LmdbStore.open(root, model);
    await importTable(store, table, openHugeCtrFolder(folder), {
      keyType: 'int64',
      progress: false,
      chunkRows: 1000,
      onProgress: (phase, rows) => {
        process.stdout.write(`${phase} ${rows}\n`);
        // Slow the store phase down so that other processes reliably arrive in the middle of it.
        if (phase === 'store' && slow) Atomics.wait(pause, 0, 0, 10);
      },
    });
    process.stdout.write('done\n');
    await store.close();
  } else if (role === 'open') {
    const store = LmdbStore.open(root, model);
    process.stdout.write(JSON.stringify(store.tables().map((t) => [t.name, t.count])) + '\n');
    await store.close();
  } else if (role === 'write') {
    await applyWrites(Number(process.argv[6]), Number(process.argv[7]));
  } else {
    throw new Error(`unknown role ${role}`);
  }
} catch (e) {
  if (!(e instanceof HpsError)) throw e;
  process.stdout.write(`${e.code}: ${e.message}\n`);
  process.exit(3);
}

async function applyWrites(dim: number, seed: number): Promise<void> {
  const store = LmdbStore.open(root, model);
  const keys = new BigInt64Array(store.table(table)!.count);
  const vectors = new Float32Array(keys.length * dim);
  let at = 0;
  for (const chunk of store.scan(table)) {
    keys.set(chunk.keys, at);
    vectors.set(chunk.vectors, at * dim);
    at += chunk.keys.length;
  }
  const scratch = tempDir('writer');
  const writes = new WriteSequence(dim, keys, vectors, seed, scratch.path);
  let round = 0;
  for await (const _ of lines()) {
    const w = writes.take();
    if (w.op === 'update') store.put(table, w.keys, w.vectors);
    else if (w.op === 'erase') store.erase(table, w.keys);
    else await importTable(store, table, openHugeCtrFolder(w.folder), { keyType: 'int64', progress: false });
    process.stdout.write(`done ${round++} ${w.op}\n`);
  }
  scratch.remove();
  await store.close();
}

async function* lines(): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of process.stdin) {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}
