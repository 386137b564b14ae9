import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

const dir = tempDir('lmdb-swap');
test.after(() => dir.remove());
const reader = fileURLToPath(new URL('./helpers/lmdb-reader.js', import.meta.url));

test('a read-only process reading while another imports sees the old table or the new one, never a mix', async () => {
  const dim = 8;
  const keys = randomInt64Keys(3000, 91);
  const positive = randomVectors(3000, dim, 92).map(Math.abs).map((v) => v || 0.5);
  const negative = positive.map((v) => -v);
  writeHugeCtr(join(dir.path, 'old'), keys, positive);
  writeHugeCtr(join(dir.path, 'new'), keys, negative);
  const store = LmdbStore.open(dir.path, 'm');
  await importTable(store, 't', openHugeCtrFolder(join(dir.path, 'old')), { keyType: 'int64', progress: false });

  const hex = Buffer.from(keys.buffer).toString('hex');
  const child = spawn(process.execPath, [reader, dir.path, 'm', 't', hex, String(dim)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  const ready = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    if (output.includes('ready')) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await ready;
  // swap back and forth (ending on the new rows), in small transactions so that each import takes many commits
  for (let i = 0; i < 7; i++) {
    const folder = join(dir.path, i % 2 === 0 ? 'new' : 'old');
    await importTable(store, 't', openHugeCtrFolder(folder), { keyType: 'int64', progress: false, chunkRows: 200 });
    await new Promise((r) => setTimeout(r, 20));
  }
  child.stdin.end();
  assert.is(await exited, 0);
  const counts = JSON.parse(output.trim().split('\n').pop()!);
  assert.is(counts.mixed, 0, JSON.stringify(counts));
  assert.is(counts.missing, 0, JSON.stringify(counts));
  assert.ok(counts.old > 0 && counts.new > 0, `both versions seen: ${JSON.stringify(counts)}`);
  await store.close();
});

test.run();
