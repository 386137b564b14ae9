import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { exportHugeCtrFolder, importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';

const dir = tempDir('export');
test.after(() => dir.remove());
const dim = 4;
const keys = randomInt64Keys(3000, 41);
const vectors = randomVectors(keys.length, dim, 42);

async function store(): Promise<LmdbStore> {
  writeHugeCtr(join(dir.path, 'src'), keys, vectors);
  const s = LmdbStore.open(dir.path, 'm');
  await importTable(s, 't', openHugeCtrFolder(join(dir.path, 'src')), { keyType: 'int64', progress: false });
  return s;
}

test('export never follows a symlink planted at a temporary name, and the export is complete', async () => {
  const s = await store();
  try {
    const out = join(dir.path, 'out');
    const victim = join(dir.path, 'victim');
    writeFileSync(victim, 'precious');
    writeFileSync(join(dir.path, 'placeholder'), '');
    await import('node:fs').then((fs) => fs.mkdirSync(out));
    // The names an export used to write to, predictable from the pid.
    symlinkSync(victim, join(out, `.key.partial-${process.pid}`));
    symlinkSync(victim, join(out, `.emb_vector.partial-${process.pid}`));
    const report = await exportHugeCtrFolder(s, 't', out);
    assert.is(report.rows, keys.length);
    assert.is(readFileSync(victim, 'utf8'), 'precious');
    const back = openHugeCtrFolder(out);
    assert.is(back.totalRows, keys.length);
    assert.equal(readdirSync(out).filter((n) => n.startsWith('.') && !n.endsWith(String(process.pid))), []);
  } finally {
    await s.close();
  }
});

test('export to a path under a file is HpsError IO naming the folder, and leaves nothing', async () => {
  const s = await store();
  try {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'x');
    await expectError(() => exportHugeCtrFolder(s, 't', join(file, 'sub')), 'IO', /cannot export to .*a-file\/sub: a part of the path is not a folder/);
    await expectError(() => exportHugeCtrFolder(s, 't', file), 'IO', /cannot export to .*a-file: /);
    assert.is(readFileSync(file, 'utf8'), 'x');
  } finally {
    await s.close();
  }
});

test.run();
