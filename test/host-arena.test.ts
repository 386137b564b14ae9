import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { HpsError } from '../engine/errors.js';
import { HostArena } from '../engine/host/host-arena.js';
import { compare, randomKeys, randomRows, rng, RowModel } from './helpers/host-random.js';

function check(arena: HostArena, model: RowModel, keys: BigInt64Array, what: string, outRowOffset = 0): void {
  const out = new Float32Array((outRowOffset + keys.length) * model.dim).fill(7);
  const missing = arena.lookup(keys, out, outRowOffset);
  const diff = compare(model, keys, out, missing, outRowOffset);
  assert.is(diff, null, `${what}: ${diff}`);
  for (let i = 0; i < outRowOffset * model.dim; i++) if (out[i] !== 7) assert.unreachable(`${what}: lookup wrote before outRowOffset`);
}

for (const dim of [1, 3, 16, 128]) {
  for (const numPartitions of [1, 4]) {
    test(`insert / replace / erase / lookup match a Map model (dim ${dim}, ${numPartitions} partitions)`, () => {
      const rand = rng(dim * 100 + numPartitions);
      const arena = HostArena.create({ dim, numPartitions });
      const model = new RowModel(dim);
      const n = dim === 128 ? 3000 : 12000;
      const keys = randomKeys(rand, n);
      const absent = randomKeys(rand, 500, new Set(keys));
      // Insert in batches, a third of each batch repeating earlier keys (replacements).
      for (let start = 0; start < n; start += 1000) {
        const fresh = keys.subarray(start, Math.min(n, start + 1000));
        const batch = new BigInt64Array(fresh.length + 300);
        batch.set(fresh);
        for (let i = fresh.length; i < batch.length; i++) batch[i] = keys[Math.floor(rand() * Math.min(n, start + 1000))];
        const rows = randomRows(rand, batch.length, dim);
        arena.insert(batch, rows);
        model.insert(batch, rows);
        assert.is(arena.size, model.map.size);
      }
      const mixed = new BigInt64Array(4000);
      for (let i = 0; i < mixed.length; i++) mixed[i] = rand() < 0.8 ? keys[Math.floor(rand() * n)] : absent[Math.floor(rand() * absent.length)];
      check(arena, model, mixed, 'after inserts');
      check(arena, model, mixed.subarray(0, 37), 'small batch at a row offset', 5);
      // Erase a random third (and some absent keys).
      const gone = new BigInt64Array(n / 3 + 50);
      for (let i = 0; i < gone.length; i++) gone[i] = i < n / 3 ? keys[Math.floor(rand() * n)] : absent[i % absent.length];
      const erased = arena.erase(gone);
      assert.is(erased, model.erase(gone));
      assert.is(arena.size, model.map.size);
      check(arena, model, mixed, 'after erase');
      // Re-insert some erased keys with new rows; replace others.
      const again = gone.subarray(0, 500);
      const rows = randomRows(rand, again.length, dim);
      arena.insert(again, rows);
      model.insert(again, rows);
      check(arena, model, keys, 'after re-insert');
      const dumped = arena.dumpKeys();
      assert.is(dumped.length, model.map.size);
      assert.ok([...dumped].every((k) => model.map.has(k)), 'dumpKeys returns held keys');
      assert.is(new Set(dumped).size, dumped.length, 'dumpKeys has no repeats');
      const s = arena.stats();
      assert.is(s.size, model.map.size);
      assert.ok(s.hits > 0 && s.misses > 0 && s.insertions >= model.map.size && s.erasures === erased);
      assert.is(s.bytes, arena.memoryBytes());
      arena.clear();
      assert.is(arena.size, 0);
      model.map.clear();
      check(arena, model, mixed, 'after clear');
      arena.insert(keys.subarray(0, 100), randomRows(rand, 100, dim));
      assert.is(arena.size, 100);
      arena.close();
    });
  }
}

test('growth from a tiny arena to a large one, checked after each step', () => {
  const rand = rng(7);
  const dim = 8;
  // 64 KiB slab steps and a 64-slot first index: many index rebuilds and slab steps on the way.
  const arena = HostArena.create({ dim, numPartitions: 3, allocationRate: 1 });
  const model = new RowModel(dim);
  const all = randomKeys(rand, 200000);
  let at = 0;
  for (let step = 1; at < all.length; step *= 2) {
    const batch = all.subarray(at, Math.min(all.length, at + step));
    const rows = randomRows(rand, batch.length, dim);
    arena.insert(batch, rows);
    model.insert(batch, rows);
    at += batch.length;
    const probe = all.subarray(Math.max(0, at - 3000), Math.min(all.length, at + 1000));
    check(arena, model, probe, `after ${at} keys`);
    // Erase a few to leave tombstones through later rebuilds.
    const gone = all.subarray(Math.max(0, at - 5), at);
    arena.erase(gone);
    model.erase(gone);
  }
  check(arena, model, all, 'at the end');
  const l = arena.layout(0);
  assert.ok(l.indexUsed <= 0.9 * l.indexCapacity + 1, 'index load stays at or under 0.9');
  assert.ok(l.rowsUsed >= arena.size / 3 * 0.9);
});

test('expectedKeys sizes the index up front: no rebuild while loading that many keys', () => {
  const rand = rng(11);
  const arena = HostArena.create({ dim: 4, numPartitions: 2, expectedKeys: 50000 });
  const before = [arena.layout(0).indexCapacity, arena.layout(1).indexCapacity];
  const keys = randomKeys(rand, 50000);
  arena.insert(keys, randomRows(rand, keys.length, 4));
  assert.equal([arena.layout(0).indexCapacity, arena.layout(1).indexCapacity], before);
  assert.is(arena.lookup(keys, new Float32Array(keys.length * 4)).length, 0);
});

test('the last slab chunk holds memory only for the rows taken from it (evict_random); rows there read back exactly', () => {
  const rand = rng(61);
  const dim = 256;   // 1 KiB rows; expectedKeys 20,000 gives 256 KiB slab chunks (256 rows)
  for (const overflowPolicy of ['evict_random', 'evict_oldest'] as const) {
    const arena = HostArena.create({ dim, numPartitions: 1, expectedKeys: 20000, overflowPolicy });
    const model = new RowModel(dim);
    const chunkRows = arena.layout().chunkRows;
    assert.is(chunkRows, 256);
    for (const n of [3 * chunkRows + 1, 5, chunkRows - 6, 1]) {
      const keys = randomKeys(rand, n, new Set(model.map.keys()));
      const rows = randomRows(rand, n, dim);
      arena.insert(keys, rows);
      model.insert(keys, rows);
      const l = arena.layout();
      const unused = (Math.ceil(l.rowsUsed / chunkRows) * chunkRows - l.rowsUsed) * l.rowBytes;
      const held = l.allocatedBytes - arena.memoryBytes();
      // evict_oldest keeps a meta word per row at the chunk's end: its chunks are covered whole.
      if (overflowPolicy === 'evict_random') assert.ok(held >= unused - 65536, `${l.rowsUsed} rows: ${held} bytes of the last chunk left unmapped, ${unused} unused`);
      else assert.ok(held <= 0, `evict_oldest: chunks mapped whole (${held})`);
      const all = BigInt64Array.from(model.map.keys());
      const out = new Float32Array(all.length * dim);
      assert.is(compare(model, all, out, arena.lookup(all, out)), null);
    }
  }
});

test('expectedKeys is a hint: beyond the margin or the memory it sizes for what fits', () => {
  const a = HostArena.create({ dim: 128, numPartitions: 2, expectedKeys: 2 ** 40, maxPartitionBytes: 64 << 20 });
  assert.ok(a.layout(0).indexCapacity * 4 < 4 << 20, 'index sized for what 64 MiB of records can hold');
  const b = HostArena.create({ dim: 4, numPartitions: 2, expectedKeys: 1e6, overflowMargin: 1000 });
  assert.ok(b.layout(0).indexCapacity < 2000, `index sized for the margin, got ${b.layout(0).indexCapacity}`);
  a.close();
  b.close();
});

test('repeats in one insert batch: the last one wins; lookups of repeated keys', () => {
  const rand = rng(3);
  const arena = HostArena.create({ dim: 2, numPartitions: 2 });
  const keys = new BigInt64Array([5n, -5n, 5n, -9223372036854775808n, 9223372036854775807n, -5n, 0n]);
  const rows = randomRows(rand, keys.length, 2);
  arena.insert(keys, rows);
  const model = new RowModel(2);
  model.insert(keys, rows);
  assert.is(arena.size, 5);
  check(arena, model, new BigInt64Array([5n, 5n, 0n, -5n, 1n, 9223372036854775807n, -9223372036854775808n]), 'repeats');
});

test('a batch whose keys all fall in one partition is served in scratch-sized pieces', () => {
  const rand = rng(4);
  const dim = 128;
  const arena = HostArena.create({ dim, numPartitions: 4 });
  const model = new RowModel(dim);
  const few = randomKeys(rand, 3);
  const rows = randomRows(rand, 3, dim);
  arena.insert(few, rows);
  model.insert(few, rows);
  // 6000 keys over 3 distinct ones (at most 3 partitions): groups far larger than one scratch.
  const batch = new BigInt64Array(6000).map((_, i) => few[i % 3]);
  const batchRows = randomRows(rand, batch.length, dim);
  arena.insert(batch, batchRows);
  model.insert(batch, batchRows);
  assert.is(arena.size, 3);
  check(arena, model, batch, 'repeated keys');
  assert.is(arena.erase(batch), 3);
  assert.is(arena.size, 0);
});

test('an attached view in the same thread sees the same data and writes', () => {
  const rand = rng(5);
  const a = HostArena.create({ dim: 3, numPartitions: 2 });
  const b = HostArena.attach(a.handle());
  const keys = randomKeys(rand, 1000);
  const rows = randomRows(rand, 1000, 3);
  a.insert(keys, rows);
  const model = new RowModel(3);
  model.insert(keys, rows);
  check(b, model, keys, 'view b');
  b.erase(keys.subarray(0, 10));
  model.erase(keys.subarray(0, 10));
  check(a, model, keys, 'view a after b erased');
  b.close();
  assert.throws(() => b.lookup(keys, new Float32Array(3000)), /closed/);
  check(a, model, keys, 'view a after b closed');
});

test('worker threads serve ranges of shared key and output buffers (the pool\'s pattern)', async () => {
  const rand = rng(6);
  const dim = 16;
  const arena = HostArena.create({ dim, numPartitions: 3 });
  const model = new RowModel(dim);
  const held = randomKeys(rand, 5000);
  const rows = randomRows(rand, held.length, dim);
  arena.insert(held, rows);
  model.insert(held, rows);
  const n = 8000;
  const keys = new BigInt64Array(new SharedArrayBuffer(n * 8));
  const absent = randomKeys(rand, 100, new Set(held));
  for (let i = 0; i < n; i++) keys[i] = rand() < 0.9 ? held[Math.floor(rand() * held.length)] : absent[i % 100];
  const out = new Float32Array(new SharedArrayBuffer(n * dim * 4));
  const ranges = [[0, 3000], [3000, 2500], [5500, 2500]];
  const missing = await Promise.all(ranges.map(([offset, count]) => new Promise<number[]>((resolve, reject) => {
    const worker = new Worker(`import { workerData, parentPort } from 'node:worker_threads';
      const { HostArena } = await import(workerData.url);
      const view = HostArena.attach(workerData.handle);
      const { keys, out, offset, count } = workerData;
      const miss = view.lookup(keys.subarray(offset, offset + count), out, offset);
      view.close();
      parentPort.postMessage(Array.from(miss, (m) => m + offset));`, {
      eval: true,
      workerData: { url: new URL('../engine/host/host-arena.js', import.meta.url).href, handle: arena.handle(), keys, out, offset, count },
    });
    worker.once('message', (m) => { resolve(m); void worker.terminate(); });
    worker.once('error', reject);
  })));
  const diff = compare(model, keys, out, Uint32Array.from(missing.flat()));
  assert.is(diff, null, String(diff));
  arena.close();
});

test('writers in several threads: each batch under its partitions\' locks, nothing lost', async () => {
  const dim = 8, perWorker = 3000, rounds = 15, workers = 3;
  const arena = HostArena.create({ dim, numPartitions: 4, allocationRate: 1 });
  const keyOf = (w: number, i: number) => BigInt(w) * 1000003n * 65536n + BigInt(i) * 7919n - 123456789n;
  await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve, reject) => {
    const worker = new Worker(`import { workerData, parentPort } from 'node:worker_threads';
      const { HostArena } = await import(workerData.url);
      const { w, perWorker, rounds, dim } = workerData;
      const view = HostArena.attach(workerData.handle);
      const keys = new BigInt64Array(perWorker).map((_, i) => BigInt(w) * 1000003n * 65536n + BigInt(i) * 7919n - 123456789n);
      for (let r = 1; r <= rounds; r++) {
        for (let s = 0; s < perWorker; s += 700) {
          const part = keys.subarray(s, Math.min(perWorker, s + 700));
          view.insert(part, new Float32Array(part.length * dim).fill(w * 1000 + r));
        }
      }
      view.erase(keys.filter((_, i) => i % 10 === 0));
      view.close();
      parentPort.postMessage('done');`, {
      eval: true,
      workerData: { url: new URL('../engine/host/host-arena.js', import.meta.url).href, handle: arena.handle(), w, perWorker, rounds, dim },
    });
    worker.once('message', () => { resolve(); void worker.terminate(); });
    worker.once('error', reject);
  })));
  const model = new RowModel(dim);
  const all: bigint[] = [];
  for (let w = 0; w < workers; w++) {
    for (let i = 0; i < perWorker; i++) {
      all.push(keyOf(w, i));
      if (i % 10 !== 0) model.map.set(keyOf(w, i), new Float32Array(dim).fill(w * 1000 + rounds));
    }
  }
  assert.is(arena.size, model.map.size);
  check(arena, model, BigInt64Array.from(all), 'after concurrent writers');
  arena.close();
});

test('reader slots: 128 views per partition; close() and releaseThread() give slots back', async () => {
  const arena = HostArena.create({ dim: 2, numPartitions: 1 });
  const views: HostArena[] = [];
  for (let i = 1; i < 128; i++) views.push(HostArena.attach(arena.handle()));
  assert.throws(() => HostArena.attach(arena.handle()), (e: Error) => e instanceof HpsError && e.code === 'CAPACITY' && /128 reader slots/.test(e.message));
  views.pop()!.close();
  views.push(HostArena.attach(arena.handle()));
  for (const v of views) v.close();
  // A worker that attaches and is terminated without close() keeps its slot until releaseThread.
  const worker = new Worker(`import { workerData, parentPort } from 'node:worker_threads';
    const { HostArena } = await import(workerData.url);
    HostArena.attach(workerData.handle);
    parentPort.postMessage('attached');
    setInterval(() => {}, 1000);`, { eval: true, workerData: { url: new URL('../engine/host/host-arena.js', import.meta.url).href, handle: arena.handle() } });
  await new Promise((resolve) => worker.once('message', resolve));
  const id = worker.threadId;
  await worker.terminate();
  assert.is(arena.releaseThread(id), 1);
  assert.is(arena.releaseThread(id), 0);
  arena.close();
});

test.run();
