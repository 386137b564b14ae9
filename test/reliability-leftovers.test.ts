import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { tempDir } from './helpers/lmdb-random.js';

const dir = tempDir('leftovers');
test.after(() => dir.remove());

/** The pid of a process that has exited. */
function deadPid(): number {
  const run = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(run.stdout);
}

test('spill folders of killed imports are removed at the next writable open; a live import\'s folder and read-only opens leave them', async () => {
  await (LmdbStore.open(dir.path, 'm')).close();
  const env = join(dir.path, 'm');
  const dead = join(env, `.import-runs-${deadPid()}-abc123`);
  const live = join(env, `.import-runs-${process.pid}-def456`);
  for (const folder of [dead, live]) {
    mkdirSync(folder);
    writeFileSync(join(folder, 'run-0.keys'), Buffer.alloc(64, 7));
  }
  await (LmdbStore.open(dir.path, 'm', { readOnly: true })).close();
  assert.ok(existsSync(dead), 'a read-only open removed a folder');
  await (LmdbStore.open(dir.path, 'm')).close();
  assert.not.ok(existsSync(dead), 'the killed import\'s folder is still there');
  assert.ok(existsSync(live), 'the live import\'s folder was removed');
});

test.run();
