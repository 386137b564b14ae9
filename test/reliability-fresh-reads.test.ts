import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { LookupPool } from '../engine/pool/lookup-pool.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import type { TableSetup } from '../engine/pipeline/table-setup.js';
import { PipelineFixture } from './helpers/pipeline-fixture.js';
import { WriteSequence } from './helpers/reliability-writes.js';
import { randomUint32Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';
import { writeHugeCtr } from './helpers/import-files.js';

const child = fileURLToPath(new URL('./helpers/reliability-child.js', import.meta.url));
const scratch = tempDir('fresh-reads');
test.after(() => scratch.remove());

test('in one process: every split and inline lookup that starts after an update, erase or import resolves sees it, with lookups running throughout', async () => {
  const f = new PipelineFixture(20_000, 8, 11);
  const ps = await f.open({ l1CacheFraction: 0.2 }, { workerThreads: 2, volatileDb: { type: 'hash_map', numPartitions: 2, initialCacheRate: 0.25, cacheMissedEmbeddings: true } }, 256);
  const writes = new WriteSequence(f.dim, f.keys, f.vectors, 12, scratch.path);
  let stop = false;
  let background = 0;
  // Lookups that overlap every write: they may see either version, and must not leave an old row cached.
  const overlapping = (async () => {
    while (!stop) {
      await ps.lookup('m', 't', writes.request(3000, null));
      background++;
    }
  })();
  try {
    for (let i = 0; i < 6; i++) await ps.lookup('m', 't', writes.request(3000, null));
    const stale: string[] = [];
    for (let round = 0; round < 15; round++) {
      const w = writes.take();
      if (w.op === 'update') await ps.update('m', 't', w.keys, w.vectors);
      else if (w.op === 'erase') await ps.erase('m', 't', w.keys);
      else await ps.importTable('m', 't', { format: 'hugectr', folder: w.folder });
      for (const [n, kind] of [[4000, 'split'], [100, 'inline'], [4000, 'split'], [100, 'inline']] as const) {
        const keys = writes.request(n, w.keys);
        const wrong = writes.wrong(keys, await ps.lookup('m', 't', keys), f.defaultValue);
        if (wrong.length > 0) stale.push(`round ${round} (${w.op}): ${wrong.length} of ${n} rows stale in a ${kind} lookup`);
      }
    }
    assert.equal(stale, []);
    assert.ok(background > 0);
  } finally {
    stop = true;
    await overlapping;
    await ps.close();
    f.dir.remove();
  }
});

test('across processes: worker threads and the calling thread see every write another process committed before the lookup began', async () => {
  const dim = 8;
  const root = join(scratch.path, 'cross');
  const keys = randomUint32Keys(20_000, 21);
  const vectors = randomVectors(keys.length, dim, 22);
  writeHugeCtr(join(root, 'initial'), keys, vectors);
  const store = LmdbStore.open(root, 'm');
  await importTable(store, 't', openHugeCtrFolder(join(root, 'initial')), { keyType: 'int64', progress: false });
  const setup: TableSetup = {
    model: 'm', table: 't', dim, defaultValue: -3, hitRateThreshold: 0.9, approximate: false, cacheMissedEmbeddings: false,
    l1: null, l2: null, l3Root: root, epoch: new SharedArrayBuffer(4),
  };
  const pool = new LookupPool({ threads: 2, setup: { tables: [setup] } });
  const writes = new WriteSequence(dim, keys, vectors, 23, join(scratch.path, 'reader-copy'));
  const proc = spawn(process.execPath, [child, 'write', root, 'm', 't', String(dim), '23'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const done: string[] = [];
  let wake: (() => void) | null = null;
  proc.stdout.on('data', (d: Buffer) => {
    done.push(...d.toString().trim().split('\n'));
    wake?.();
  });
  /** Reads `req` through two worker ranges and the calling thread; returns the wrong rows per reader. */
  const read = async (req: BigInt64Array) => {
    const keysShared = new BigInt64Array(new SharedArrayBuffer(req.byteLength));
    keysShared.set(req);
    const out = new SharedArrayBuffer(req.length * dim * 4);
    const half = req.length >> 1;
    await Promise.all([0, 1].map((p) => pool.run({ table: 0, keys: keysShared.buffer as SharedArrayBuffer, out, outByteOffset: 0, offset: p * half, count: p === 0 ? half : req.length - half, distinct: false, warm: false })));
    const inline = new Float32Array(req.length * dim).fill(-3);
    store.get('t', req, inline);
    return { workers: writes.wrong(req, new Float32Array(out), -3).length, inline: writes.wrong(req, inline, -3).length };
  };
  try {
    assert.equal(await read(writes.request(4000, null)), { workers: 0, inline: 0 });
    const stale: string[] = [];
    for (let round = 0; round < 12; round++) {
      proc.stdin.write('next\n');
      while (done.length <= round) await new Promise<void>((resolve) => (wake = resolve));
      const w = writes.take();
      assert.ok(done[round].endsWith(w.op), done[round]);
      const wrong = await read(writes.request(4000, w.keys));
      if (wrong.workers + wrong.inline > 0) stale.push(`round ${round} (${w.op}): ${wrong.workers} stale rows from workers, ${wrong.inline} from the calling thread`);
    }
    assert.equal(stale, []);
  } finally {
    proc.stdin.end();
    await new Promise((resolve) => proc.on('exit', resolve));
    await pool.close();
    await store.close();
  }
});

test('data.mdb stays flat over 10 imports by another process while a server with workers serves the table', async () => {
  const f = new PipelineFixture(40_000, 16, 31);
  const ps = await f.open({ l1CacheFraction: 0.1 }, { workerThreads: 2 }, 256);
  const other = join(scratch.path, 'other');
  writeHugeCtr(other, f.keys, randomVectors(f.keys.length, f.dim, 32));
  const dataFile = join(f.dir.path, 'store', 'm', 'data.mdb');
  const sizes: number[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 4; j++) await ps.lookup('m', 't', f.keys.subarray(j * 3000, (j + 1) * 3000));
      const folder = i % 2 === 0 ? other : join(f.dir.path, 'model', 't');
      const ended = await new Promise<number | null>((resolve) => {
        const proc = spawn(process.execPath, [child, 'import', join(f.dir.path, 'store'), 'm', 't', folder], { stdio: 'ignore', env: { ...process.env, HPS_TEST_FAST: '1' } });
        proc.on('exit', resolve);
      });
      assert.is(ended, 0);
      for (let j = 0; j < 4; j++) await ps.lookup('m', 't', f.keys.subarray(j * 3000, (j + 1) * 3000));
      await new Promise((resolve) => setTimeout(resolve, 20));
      sizes.push(statSync(dataFile).size);
    }
    const mib = sizes.map((s) => (s / 2 ** 20).toFixed(1)).join(', ');
    // One table version is about 3 MiB: growing by that much after the first imports means pages are not reused.
    assert.ok(sizes[9] <= sizes[2] + (1 << 20), `data.mdb after each import (MiB): ${mib}`);
  } finally {
    await ps.close();
    f.dir.remove();
  }
});

test.run();
