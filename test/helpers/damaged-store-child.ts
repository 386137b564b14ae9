// The child process of reliability-damaged-store: opens a store that may be damaged and reads all of it.
//   lmdb ROOT MODEL [ro]   LmdbStore.open (writable, or read-only with "ro"), then every row of every table
//   ps CONFIG              ParameterServer.open, then a lookup of every stored key of every table
// Prints "read N rows" and exits 0; on an error prints "<name> <code>: <message>" on stderr and exits 3.
// A damaged file must never end it by a signal.
import { LmdbStore } from '../../engine/lmdb/lmdb-store.js';
import { ParameterServer } from '../../engine/parameter-server.js';
import { HpsError } from '../../engine/errors.js';

const [role, a, b, mode] = process.argv.slice(2);
try {
  let rows = 0;
  if (role === 'lmdb') {
    const store = LmdbStore.open(a, b, { readOnly: mode === 'ro' });
    for (const t of store.tables()) for (const chunk of store.scan(t.name)) rows += chunk.keys.length;
    await store.close();
  } else {
    const ps = await ParameterServer.open(a, { progress: false, log: () => {} });
    for (const m of ps.info().models) {
      for (const t of m.tables) {
        const keys = ps.storedKeys(m.name, t.name, t.rows ?? 0);
        await ps.lookup(m.name, t.name, keys);
        rows += keys.length;
      }
    }
    await ps.close();
  }
  process.stdout.write(`read ${rows} rows\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).name} ${e instanceof HpsError ? e.code : ''}: ${(e as Error).message}\n`);
  process.exitCode = 3;
}
