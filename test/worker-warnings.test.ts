import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { HostArena } from '../engine/host/host-arena.js';
import { LmdbStore } from '../engine/lmdb/lmdb-store.js';
import { importTable, openHugeCtrFolder } from '../engine/import/index.js';
import { LookupPool } from '../engine/pool/lookup-pool.js';
import type { TableSetup } from '../engine/pipeline/table-setup.js';
import type { RangeTask } from '../engine/pool/protocol.js';
import { writeHugeCtr } from './helpers/import-files.js';
import { randomInt64Keys, randomVectors, tempDir } from './helpers/lmdb-random.js';

/*
 * A lookup worker's deferred cache insertion that fails (here: the host arena is full) fails no request,
 * since each was answered already: its warning reaches the pool owner's warn (OpenOptions.warn), through
 * a message to the calling thread, and never the worker's own stderr.
 */

const dir = tempDir('worker-warnings');
test.after(() => dir.remove());

const dim = 64;
const rows = 40_000;
const keys = randomInt64Keys(rows, 501);
const vectors = randomVectors(rows, dim, 502);

test('a failed deferred insertion in a real worker thread reaches the owner\'s warn; the request was served exactly', async () => {
  writeHugeCtr(join(dir.path, 'src'), keys, vectors);
  const store = LmdbStore.open(dir.path, 'm');
  await importTable(store, 't', openHugeCtrFolder(join(dir.path, 'src'), dim), { keyType: 'int64', progress: false });
  await store.close();
  // One partition of 4 MiB holds far fewer than 40,000 rows of 64 floats, and no eviction is allowed.
  const arena = HostArena.create({ dim, numPartitions: 1, maxPartitionBytes: 4 << 20, overflowMargin: Number.MAX_SAFE_INTEGER });
  const setup: TableSetup = {
    model: 'm', table: 't', dim, defaultValue: -1, hitRateThreshold: 0.9, approximate: false, cacheMissedEmbeddings: true,
    l1: null, l2: arena.handle(), l3Root: dir.path, epoch: new SharedArrayBuffer(4),
  };
  const warnings: string[] = [];
  const processWarnings: string[] = [];
  const onProcessWarning = (w: Error) => processWarnings.push(w.message);
  process.on('warning', onProcessWarning);
  let arrived: (() => void) | null = null;
  const pool = new LookupPool({ threads: 1, setup: { tables: [setup] }, warn: (line) => { warnings.push(line); arrived?.(); } });
  try {
    const shared = new BigInt64Array(new SharedArrayBuffer(keys.byteLength));
    shared.set(keys);
    const out = new SharedArrayBuffer(rows * dim * 4);
    const task: RangeTask = { table: 0, keys: shared.buffer as SharedArrayBuffer, out, outByteOffset: 0, offset: 0, count: rows, distinct: true, warm: false };
    const result = await pool.run(task);
    assert.is(result.notFound.length, 0);
    assert.is(result.counts.l3Hits, rows);
    assert.ok(new Float32Array(out).every((x, i) => x === vectors[i]), 'served rows differ from the imported ones');
    assert.is(pool.workers.length, 1, 'the worker is still alive');

    // The insertion runs after the task, on the worker's next turn: wait for its warning.
    if (warnings.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no warning reached warn within 20 s')), 20_000);
        arrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    assert.is(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /^hps: a deferred cache insertion failed: HostArena\.insert: partition 0 cannot grow to hold \d+ more keys of dim 64/);
    assert.equal(processWarnings, []);
    // The rows that did not fit were not inserted: the arena holds none of them, and the next request is served the same.
    const again = await pool.run({ ...task, out: new SharedArrayBuffer(rows * dim * 4) });
    assert.is(again.counts.l3Hits + again.counts.l2Hits, rows);
  } finally {
    await pool.close();
    process.off('warning', onProcessWarning);
    arena.close();
  }
});

test.run();
