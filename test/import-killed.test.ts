import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

const dir = tempDir('import-killed');
test.after(() => dir.remove());
const child = fileURLToPath(new URL('./helpers/import-child.js', import.meta.url));

/** Runs the child import and SIGKILLs it once `afterRows` rows are through `phase`. */
function killMidImport(folder: string, budget: number, phase: 'sort' | 'store', afterRows: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir.path, 'm', 't', folder, String(budget)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = '';
    proc.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      const last = seen.trim().split('\n').filter((l) => l.startsWith(phase)).pop();
      if (last && Number(last.split(' ')[1]) >= afterRows) proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`child ended with ${code}/${signal} before being killed: ${seen}`))));
  });
}

test('a SIGKILLed import leaves the previous table intact and readable', async () => {
  const dim = 16;
  const oldKeys = randomInt64Keys(2000, 61);
  const oldVectors = randomVectors(2000, dim, 62);
  const oldFolder = join(dir.path, 'old');
  writeHugeCtr(oldFolder, oldKeys, oldVectors);
  let store = LmdbStore.open(dir.path, 'm');
  await importTable(store, 't', openHugeCtrFolder(oldFolder), { keyType: 'int64', progress: false });
  await store.close();

  const n = 200_000;
  const bigFolder = join(dir.path, 'big');
  writeHugeCtr(bigFolder, randomInt64Keys(n, 63), randomVectors(n, dim, 64));
  const cases = [[1 << 30, 'store', 20_000], [0, 'store', 20_000], [0, 'sort', 40_000]] as const;
  for (const [budget, phase, rows] of cases) {
    const output = await killMidImport(bigFolder, budget, phase, rows);
    assert.not.match(output, /done/);

    store = LmdbStore.open(dir.path, 'm');
    assert.equal(store.tables().map((t) => [t.name, t.count]), [['t', 2000]]);
    const out = new Float32Array(2000 * dim);
    assert.is(store.get('t', oldKeys, out).length, 0);
    assert.equal(Array.from(out), Array.from(oldVectors));
    await store.close();
  }
  // a later import completes and clears what the killed ones left behind
  store = LmdbStore.open(dir.path, 'm');
  const { report } = await importTable(store, 't', openHugeCtrFolder(bigFolder), { keyType: 'int64', progress: false, memoryBudget: 0, runRows: 50_000 });
  assert.is(report.count, n);
  assert.equal(readdirSync(store.path).filter((f) => f.startsWith('.import-runs')), []);
  await store.close();
});

test.run();
