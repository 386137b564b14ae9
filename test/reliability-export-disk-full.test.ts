import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';

/*
 * An export onto a disk that fills up: a real full file system, a 256 KiB tmpfs mounted in a mount
 * namespace of the child process (`unshare -Urm`: no root needed where user namespaces are enabled).
 * The export is HpsError IO saying "disk full" (not "Input/output error"), and its temporary files are
 * removed. The same export to a roomy folder succeeds, so the full disk is what failed it.
 */

const child = fileURLToPath(new URL('./helpers/export-child.js', import.meta.url));
const dir = tempDir('export-full');
test.after(() => dir.remove());

function exportIn(folder: string, sizeKiB: number | null): Record<string, unknown> {
  mkdirSync(folder, { recursive: true });
  const node = `${JSON.stringify(process.execPath)} ${JSON.stringify(child)} ${JSON.stringify(dir.path)} m t ${JSON.stringify(folder)}`;
  const script = sizeKiB === null ? node : `mount -t tmpfs -o size=${sizeKiB}k tmpfs ${JSON.stringify(folder)} && ${node}`;
  const r = spawnSync('unshare', ['-Urm', 'sh', '-c', script], { encoding: 'utf8' });
  assert.is(r.status, 0, `unshare -Urm (a user and mount namespace) failed: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('export onto a full disk: IO "disk full", no temporary file left; the same export elsewhere succeeds', async () => {
  const rows = 4000;
  const store = LmdbStore.open(dir.path, 'm');
  store.ensureTable('t', 32, 'int64');
  store.put('t', randomInt64Keys(rows, 601), randomVectors(rows, 32, 602));
  await store.close();

  const full = exportIn(join(dir.path, 'small-disk'), 256);
  assert.is(full.code, 'IO', JSON.stringify(full));
  assert.match(full.message as string, /model m table t: cannot export to \S+small-disk: disk full \(ENOSPC: no space left on device/);
  assert.match(full.message as string, /with room for 4000 rows/);
  assert.equal(full.left, [], 'temporary files were left on the full disk');

  const roomy = exportIn(join(dir.path, 'roomy'), null);
  assert.is(roomy.rows, rows, JSON.stringify(roomy));
  assert.equal((roomy.left as string[]).sort(), ['emb_vector', 'key']);
});

test.run();
