import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GATE_FILE } from '../engine/lmdb/env-gate.js';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';

const dir = tempDir('import-gate');
test.after(() => dir.remove());
const child = fileURLToPath(new URL('./helpers/open-race-child.js', import.meta.url));

/** Whether the gate link is there (existsSync would follow it to its target, which is no file). */
function gateHeld(folder: string): boolean {
  try {
    return lstatSync(join(folder, GATE_FILE)).isSymbolicLink();
  } catch {
    return false;
  }
}

function run(args: string[]): { ended: Promise<{ code: number | null; output: string }>; proc: ReturnType<typeof spawn> } {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { proc, ended: new Promise((resolve) => proc.on('exit', (code) => resolve({ code, output }))) };
}

test('the environment gate lets one process at a time in: read-modify-write of a plain file by 3 processes loses no update', async () => {
  const folder = join(dir.path, 'count');
  const file = join(dir.path, 'counter');
  writeFileSync(file, '0');
  const [processes, times] = [3, 300];
  const ended = await Promise.all(Array.from({ length: processes }, () => run(['count', folder, file, String(times)]).ended));
  for (const e of ended) assert.is(e.code, 0, e.output);
  assert.is(Number(readFileSync(file, 'utf8')), processes * times);
  assert.not.ok(gateHeld(folder), 'the gate is still held');
});

test('a gate left by a killed process is taken over by the next one: its store opens and writes', async () => {
  const holder = run(['hold', join(dir.path, 'm')]);
  const lines = createInterface({ input: holder.proc.stdout! })[Symbol.asyncIterator]();
  assert.is((await lines.next()).value, 'held');
  holder.proc.kill('SIGKILL');
  await holder.ended;
  assert.ok(gateHeld(join(dir.path, 'm')), 'the killed process left no gate behind');
  const store = LmdbStore.open(dir.path, 'm');
  try {
    const keys = randomInt64Keys(100, 5);
    const vectors = randomVectors(100, 4, 6);
    store.ensureTable('t', 4, 'int64');
    store.put('t', keys, vectors);
    const out = new Float32Array(vectors.length);
    assert.is(store.get('t', keys, out).length, 0);
    assert.equal(out, vectors);
  } finally {
    await store.close();
  }
  assert.not.ok(gateHeld(join(dir.path, 'm')), 'the gate is still held');
});

test.run();
