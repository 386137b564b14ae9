import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostArena } from '../engine/host/host-arena.js';
import { LookupPool } from '../engine/pool/lookup-pool.js';
import type { TableSetup } from '../engine/pipeline/table-setup.js';
import type { RangeTask } from '../engine/pool/protocol.js';
import { HpsError } from '../engine/errors.js';
import { randomKeys, randomRows, rng } from './helpers/host-random.js';

const dim = 8;
const rand = rng(5);
const keys = randomKeys(rand, 5000);
const rows = randomRows(rand, keys.length, dim);
const arena = HostArena.create({ dim, numPartitions: 2 });
arena.insert(keys, rows);
const setup: TableSetup = {
  model: 'm', table: 't', dim, defaultValue: -3, hitRateThreshold: 0.9, approximate: false, cacheMissedEmbeddings: false,
  l1: null, l2: arena.handle(), l3Root: null, epoch: new SharedArrayBuffer(4),
};

function task(): { task: RangeTask; check(): void } {
  const ks = new BigInt64Array(new SharedArrayBuffer(keys.byteLength));
  ks.set(keys);
  const out = new SharedArrayBuffer(keys.length * dim * 4);
  return {
    task: { table: 0, keys: ks.buffer as SharedArrayBuffer, out, outByteOffset: 0, offset: 0, count: keys.length, distinct: true, warm: false },
    check: () => assert.ok(new Float32Array(out).every((x, i) => x === rows[i]), 'rows differ from the inserted ones'),
  };
}

/** Settles `p`, or says it hung. */
async function settle<T>(p: Promise<T>, ms = 20_000): Promise<{ value?: T; error?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    p.then((value) => ({ value }), (error) => ({ error })),
    new Promise<{ hung: true }>((resolve) => (timer = setTimeout(() => resolve({ hung: true }), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

test('a worker terminated while it starts fails its request with WORKER_DIED, is replaced, and the pool keeps serving (threads + 2 times over)', async () => {
  const pool = new LookupPool({ threads: 2, tasksPerThread: 1, setup: { tables: [setup] } });
  try {
    for (let i = 0; i < pool.threads + 2; i++) {
      await pool.enter();
      try {
        const t = task();
        const running = pool.run(t.task);
        // The task started the pool's first thread (or its replacement): end every thread before it is ready.
        const starting = pool.workers.slice();
        assert.ok(starting.length > 0, 'the task started no worker');
        await Promise.all(starting.map((w) => w.terminate()));
        const r = await settle(running);
        assert.not.ok(r.hung, `request ${i} hung after its worker died while starting`);
        if (r.error) {
          assert.instance(r.error, HpsError);
          assert.is((r.error as HpsError).code, 'WORKER_DIED');
          assert.match((r.error as Error).message, /worker .* (died|failed|exited)/);
        } else {
          t.check();
        }
      } finally {
        pool.leave();
      }
    }
    // Then a request is served in full by a fresh worker.
    const t = task();
    const r = await settle(pool.run(t.task));
    assert.not.ok(r.hung, 'a request after the deaths hung');
    assert.is(r.error, undefined, String(r.error));
    t.check();
  } finally {
    await pool.close();
  }
});

test.run();
