// Child processes of the open-race tests, one role per first argument:
//   commit ROOT MODEL TABLE DIM SEED PUTS ROWS   puts PUTS x ROWS random rows (randomInt64Keys(PUTS x ROWS, SEED),
//                                                randomVectors(.., DIM, SEED + 1)) into TABLE, ROWS per put (one
//                                                write transaction each), then prints "done"
//   open ROOT MODEL TIMES                        opens and closes the store TIMES times, read-only and writable in turn
//   serve ROOT MODEL TABLE DIM MAXDBS            keeps one read-only store open with MAXDBS named databases; for each
//                                                line "SEED N" on stdin, reads the keys randomInt64Keys(N, SEED) and
//                                                prints "rows FOUND SUM" (FOUND keys present, SUM of their values)
//   count FOLDER FILE TIMES                      TIMES times, holding the gate of the environment folder FOLDER: reads
//                                                the number in FILE and writes it back plus one (unguarded, updates get lost)
//   hold FOLDER                                  takes the gate of FOLDER, prints "held" and waits to be killed
import { readFileSync, writeFileSync } from 'node:fs';
import { EnvGate } from '../../engine/lmdb/env-gate.js';
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';
import { HpsError } from '../../engine/errors.js';
import { randomInt64Keys, randomVectors } from './lmdb-random.js';

const [role, root, model, ...rest] = process.argv.slice(2);

try {
  if (role === 'commit') {
    const [table, dim, seed, puts, rows] = [rest[0], ...rest.slice(1).map(Number)];
    const keys = randomInt64Keys(puts * rows, seed);
    const vectors = randomVectors(puts * rows, dim, seed + 1);
    const store = LmdbStore.open(root, model);
    store.ensureTable(table, dim, 'int64');
    for (let p = 0; p < puts; p++) store.put(table, keys.subarray(p * rows, (p + 1) * rows), vectors.subarray(p * rows * dim, (p + 1) * rows * dim));
    await store.close();
    process.stdout.write('done\n');
  } else if (role === 'open') {
    for (let i = 0; i < Number(rest[0]); i++) {
      const store = LmdbStore.open(root, model, { readOnly: i % 2 === 0 });
      store.tables();
      await store.close();
    }
  } else if (role === 'serve') {
    const [table, dim, maxDbs] = [rest[0], Number(rest[1]), Number(rest[2])];
    const store = LmdbStore.open(root, model, { readOnly: true, maxDbs });
    let buffered = '';
    for await (const chunk of process.stdin) {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const [seed, n] = buffered.slice(0, nl).split(' ').map(Number);
        buffered = buffered.slice(nl + 1);
        const keys = randomInt64Keys(n, seed);
        const out = new Float32Array(n * dim);
        const missing = store.get(table, keys, out);
        let sum = 0;
        for (const x of out) sum += x;
        process.stdout.write(`rows ${n - missing.length} ${sum}\n`);
      }
    }
    await store.close();
  } else if (role === 'count') {
    const gate = EnvGate.open(root, false);
    for (let i = 0; i < Number(rest[0]); i++) {
      gate.run(() => writeFileSync(model, String(Number(readFileSync(model, 'utf8')) + 1)));
    }
  } else if (role === 'hold') {
    EnvGate.open(root, false).run(() => {
      process.stdout.write('held\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });
  } else {
    throw new Error(`unknown role ${role}`);
  }
} catch (e) {
  if (!(e instanceof HpsError)) throw e;
  process.stdout.write(`${e.code}: ${e.message}\n`);
  process.exit(3);
}
