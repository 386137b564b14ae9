import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { randomInt64Keys, randomVectors, rng, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { expectError } from './helpers/expect-error.js';

const dir = tempDir('import-lock');
test.after(() => dir.remove());
const child = fileURLToPath(new URL('./helpers/reliability-child.js', import.meta.url));
const dim = 8;

interface Ended { code: number | null; signal: NodeJS.Signals | null; output: string }

/** Runs a child; a `waiting` one is started now but acts only once `go()` is called. */
function run(args: string[], onLine?: (line: string) => void, waiting = false): { ended: Promise<Ended>; go(): void } {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HPS_TEST_WAIT: waiting ? '1' : '' } });
  const go = () => proc.stdin.end('go\n');
  if (!waiting) proc.stdin.end();
  const ended = new Promise<Ended>((resolve, reject) => {
    let output = '';
    proc.stdout.on('data', (d: Buffer) => {
      const text = d.toString();
      output += text;
      if (onLine) for (const line of text.trim().split('\n')) onLine(line);
    });
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
  return { ended, go };
}

/** Two versions of the table: all-positive rows of `n` keys, all-negative rows of another key set. */
function versions() {
  const a = { keys: randomInt64Keys(20_000, 1), vectors: randomVectors(20_000, dim, 2).map(Math.abs), folder: join(dir.path, 'a') };
  const b = { keys: randomInt64Keys(24_000, 3), vectors: randomVectors(24_000, dim, 4).map((v) => -Math.abs(v)), folder: join(dir.path, 'b') };
  writeHugeCtr(a.folder, a.keys, a.vectors);
  writeHugeCtr(b.folder, b.keys, b.vectors);
  return [a, b];
}

/** Asserts that the stored table is exactly `v`: every key, every row, the count, nothing lost. */
async function assertTableIs(v: { keys: BigInt64Array; vectors: Float32Array }, round: number): Promise<void> {
  const store = LmdbStore.open(dir.path, 'm', { readOnly: true });
  try {
    const out = new Float32Array(v.keys.length * dim);
    const missing = store.get('t', v.keys, out);
    assert.is(missing.length, 0, `round ${round}: ${missing.length} of ${v.keys.length} rows of the imported version are missing`);
    assert.ok(out.every((x, i) => x === v.vectors[i]), `round ${round}: rows differ from the imported version`);
    assert.is(store.table('t')?.count, v.keys.length, `round ${round}: the table holds rows of another version`);
  } finally {
    await store.close();
  }
}

test('writable opens and a second import at random moments during an import: the table is the old or the new one whole, no process crashes, the second import is BUSY', async () => {
  const [a, b] = versions();
  const store = LmdbStore.open(dir.path, 'm');
  await importTable(store, 't', openHugeCtrFolder(a.folder), { keyType: 'int64', progress: false });
  await store.close();
  const rand = rng(99);
  let current = a;
  let busySeen = 0;
  for (let round = 0; round < 20; round++) {
    const next = current === a ? b : a;
    // The others start once the importer has stored a random number of rows (0 = as it begins).
    const at = Math.floor((rand() / 2 ** 32) * 16) * 1000;
    const others = [run(['open', dir.path, 'm'], undefined, true), run(['open', dir.path, 'm'], undefined, true)];
    if (round % 3 === 0) others.push(run(['import', dir.path, 'm', 't', current.folder], undefined, true));
    let started = false;
    const ended = await run(['import', dir.path, 'm', 't', next.folder], (line) => {
      if (started || !(line === 'sort ' + next.keys.length || (line.startsWith('store') && Number(line.split(' ')[1]) >= at))) return;
      started = true;
      for (const o of others) o.go();
    }).ended;
    const rest = await Promise.all(others.map((o) => o.ended));
    assert.is(ended.signal, null, `round ${round}: importer killed by ${ended.signal}: ${ended.output}`);
    assert.is(ended.code, 0, `round ${round}: importer failed: ${ended.output}`);
    assert.ok(started, `round ${round}: the other processes never started`);
    let expected = next;
    for (const [i, r] of rest.entries()) {
      assert.is(r.signal, null, `round ${round}: a concurrent process was killed by ${r.signal}: ${r.output}`);
      if (r.code === 3) {
        assert.match(r.output, /^BUSY: model m table t: another import of this table is running in process \d+/);
        busySeen++;
      } else {
        assert.is(r.code, 0, `round ${round}: ${r.output}`);
        // A second import that was not refused began after the first had finished, so it committed last.
        if (i === 2) expected = current;
      }
    }
    await assertTableIs(expected, round);
    current = expected;
  }
  assert.ok(busySeen > 0, 'no second import was refused');
});

test('a second import of the same table in one process is BUSY and leaves the first to finish', async () => {
  const [a, b] = versions();
  const store = LmdbStore.open(dir.path, 'm2');
  try {
    const first = store.beginImport('t', { dim, keyType: 'int64', fingerprint: null, source: null });
    await expectError(() => importTable(store, 't', openHugeCtrFolder(b.folder), { keyType: 'int64', progress: false }), 'BUSY', /another import of this table is running in process \d+/);
    first.write(a.keys, a.vectors);
    assert.is(first.commit().count, a.keys.length);
    // Another table is not locked by it, and the lock is gone once the import is done.
    await importTable(store, 'u', openHugeCtrFolder(b.folder), { keyType: 'int64', progress: false });
    await importTable(store, 't', openHugeCtrFolder(b.folder), { keyType: 'int64', progress: false });
    assert.is(store.table('t')?.count, b.keys.length);
  } finally {
    await store.close();
  }
});

test.run();
