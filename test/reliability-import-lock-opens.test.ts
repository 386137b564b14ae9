import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { randomInt64Keys, randomVectors } from './helpers/lmdb-random.js';

// On tmpfs where there is one: a commit then costs no disk sync, so far more of them land inside other
// processes' opens (the race is per commit, and the disk is what makes commits rare).
const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'hps-open-race-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const child = fileURLToPath(new URL('./helpers/open-race-child.js', import.meta.url));

interface Ended { code: number | null; signal: NodeJS.Signals | null; output: string }

function run(args: (string | number)[]): Promise<Ended> {
  const proc = spawn(process.execPath, [child, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

test('other processes opening the environment (read-only and writable) during a stream of commits: every committed row is there, no process fails', async () => {
  const [dim, seed, puts, rows] = [4, 7, 4000, 5];
  const keys = randomInt64Keys(puts * rows, seed);
  const vectors = randomVectors(puts * rows, dim, seed + 1);
  // The environment exists before the openers start (a read-only open needs it).
  assert.is((await run(['commit', root, 'm', 't', dim, seed, 1, rows])).code, 0);
  const committer = run(['commit', root, 'm', 't', dim, seed, puts, rows]);
  const openers = [run(['open', root, 'm', 500]), run(['open', root, 'm', 500]), run(['open', root, 'm', 500])];
  for (const [i, ended] of [await committer, ...(await Promise.all(openers))].entries()) {
    assert.is(ended.signal, null, `process ${i} was killed by ${ended.signal}: ${ended.output}`);
    assert.is(ended.code, 0, `process ${i} failed: ${ended.output}`);
  }
  const store = LmdbStore.open(root, 'm', { readOnly: true });
  try {
    const out = new Float32Array(keys.length * dim);
    const missing = store.get('t', keys, out);
    assert.is(missing.length, 0, `${missing.length} of ${keys.length} committed rows are missing (${missing.length / rows} of ${puts} commits lost)`);
    assert.equal(out, vectors, 'stored rows differ from the committed ones');
    assert.is(store.table('t')?.count, keys.length);
  } finally {
    await store.close();
  }
});

test.run();
