import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { HostArena } from '../engine/host/host-arena.js';
import { randomKeys, rng } from './helpers/host-random.js';
import type { TornSetup } from './helpers/host-torn-worker.js';

const workerUrl = new URL('./helpers/host-torn-worker.js', import.meta.url);

function run(setup: TornSetup): { worker: Worker; done: Promise<Record<string, number | string>> } {
  const worker = new Worker(workerUrl, { workerData: setup });
  const done = new Promise<Record<string, number | string>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
  });
  return { worker, done };
}

/** One writer thread and two reader threads on one arena; returns the readers' and writer's reports. */
async function tornRun(arena: HostArena, mode: TornSetup['mode'], rowsPerReader: number) {
  const rand = rng(99);
  const hot = new BigInt64Array(new SharedArrayBuffer(256 * 8));
  hot.set(randomKeys(rand, 256));
  arena.insert(hot, new Float32Array(hot.length * arena.dim).fill(0.5));
  const control = new Int32Array(new SharedArrayBuffer(8));
  const base = { handle: arena.handle(), mode, hot, control, rowsTarget: rowsPerReader };
  const writer = run({ ...base, role: 'writer', seed: 1 });
  const readers = [run({ ...base, role: 'reader', seed: 2 }), run({ ...base, role: 'reader', seed: 3 })];
  try {
    const reports = await Promise.all(readers.map((r) => r.done));
    Atomics.store(control, 0, 1);
    const written = await writer.done;
    if (process.env.HOST_TORN_VERBOSE) console.log(mode, JSON.stringify(reports), JSON.stringify(written), arena.layout(0));
    return { reports, written };
  } finally {
    Atomics.store(control, 0, 1);
    await Promise.all([writer, ...readers].map((w) => w.worker.terminate()));
  }
}

function assertNoTorn(reports: Record<string, number | string>[], written: Record<string, number | string>, rowsPerReader: number) {
  for (const r of reports) {
    assert.ok((r.rowsRead as number) >= rowsPerReader);
    assert.is(r.torn, 0, `a reader saw ${r.torn} torn rows, first: ${r.firstTorn}`);
    assert.is(r.backwards, 0, 'a reader saw a key go back to an older stamp');
  }
  assert.ok((written.writes as number) > 3, `the writer rewrote the keys ${written.writes} times while readers read`);
}

test('readers never see a torn row while a writer rewrites the same keys (millions of row reads)', async () => {
  const arena = HostArena.create({ dim: 16, numPartitions: 2 });
  const rows = 1_500_000;
  const { reports, written } = await tornRun(arena, 'rewrite', rows);
  assertNoTorn(reports, written, rows);
  for (const r of reports) assert.is(r.missing, 0);
});

test('no torn rows and no lost keys while the arena grows (index rebuilds, slab steps)', async () => {
  const arena = HostArena.create({ dim: 16, numPartitions: 2, allocationRate: 1 });
  const before = arena.layout(0).indexCapacity;
  const rows = 1_000_000;
  const { reports, written } = await tornRun(arena, 'grow', rows);
  assertNoTorn(reports, written, rows);
  for (const r of reports) assert.is(r.missing, 0, 'hot keys are never missing while the index is rebuilt');
  assert.ok(arena.layout(0).indexCapacity > before, 'the index grew during the run');
  assert.ok((written.added as number) > 0);
});

test('no torn rows while the index is rebuilt again and again under long reads (readers on retired indexes)', async () => {
  const arena = HostArena.create({ dim: 16, numPartitions: 2 });
  const rows = 2_000_000;
  const { reports, written } = await tornRun(arena, 'rebuild', rows);
  assertNoTorn(reports, written, rows);
  for (const r of reports) assert.is(r.missing, 0, 'hot keys are never missing while fresh keys come and go');
  assert.ok((written.added as number) > 0);
});

test('no torn rows while overflow eviction runs (evicted keys may be missing)', async () => {
  const arena = HostArena.create({ dim: 16, numPartitions: 2, overflowMargin: 2000, overflowResolutionTarget: 0.5 });
  const rows = 1_000_000;
  const { reports, written } = await tornRun(arena, 'evict', rows);
  assertNoTorn(reports, written, rows);
  assert.ok(arena.stats().evictions > 0, 'eviction ran');
  assert.ok(arena.size <= 2 * 2000);
});

test('no torn rows while least-used eviction runs and readers bump use counts', async () => {
  const arena = HostArena.create({ dim: 16, numPartitions: 2, overflowMargin: 2000, overflowResolutionTarget: 0.5, overflowPolicy: 'evict_least_used' });
  const rows = 1_000_000;
  const { reports, written } = await tornRun(arena, 'evict', rows);
  assertNoTorn(reports, written, rows);
  assert.ok(arena.stats().evictions > 0, 'eviction ran');
  assert.ok(arena.size <= 2 * 2000);
});

test.run();
