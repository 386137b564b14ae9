import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

const dir = tempDir('import-handles');
test.after(() => dir.remove());
const child = fileURLToPath(new URL('./helpers/open-race-child.js', import.meta.url));

test('a read-only process open across many more re-imports than it may hold named databases serves the newest rows after each one', async () => {
  const [dim, rows, imports, maxDbs] = [4, 500, 24, 4];
  const store = LmdbStore.open(dir.path, 'm');
  const folder = join(dir.path, 'source');
  const importVersion = async (seed: number) => {
    const keys = randomInt64Keys(rows, seed);
    const vectors = randomVectors(rows, dim, seed + 1);
    writeHugeCtr(folder, keys, vectors);
    await importTable(store, 't', openHugeCtrFolder(folder), { keyType: 'int64', progress: false });
    // The sum of the rows in key order, as the reader adds them (float64 over float32 values): exact.
    let sum = 0;
    for (const x of vectors) sum += x;
    return sum;
  };
  await importVersion(100);
  // The reader may hold `maxDbs` named databases: the metadata, and two per table whatever the imports.
  const reader = spawn(process.execPath, [child, 'serve', dir.path, 'm', 't', String(dim), String(maxDbs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  reader.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => reader.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: reader.stdout })[Symbol.asyncIterator]();
  const ask = async (seed: number) => {
    reader.stdin.write(`${seed} ${rows}\n`);
    const { value, done } = await lines.next();
    assert.not.ok(done, `the reader exited: ${stderr}`);
    return value as string;
  };
  try {
    for (let i = 1; i <= imports; i++) {
      const seed = 100 + 2 * i;
      const sum = await importVersion(seed);
      // A version never imported before, whose keys the reader must not find (an old version's or none).
      assert.is(await ask(seed), `rows ${rows} ${sum}`, `import ${i}: the reader does not serve the newest rows (${stderr})`);
      assert.is(await ask(seed - 2), 'rows 0 0', `import ${i}: the reader still serves the previous version`);
    }
  } finally {
    reader.stdin.end();
    await store.close();
  }
  assert.is(await exited, 0, stderr);
});

test.run();
