import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostArena } from '../engine/host/host-arena.js';
import { compare, randomKeys, randomRows, rng, RowModel } from './helpers/host-random.js';

const DIM = 5;

/** Keys of the model still held by the arena; the others (evicted) leave the model. Checks held rows. */
function settle(arena: HostArena, model: RowModel, what: string): BigInt64Array {
  const keys = BigInt64Array.from(model.map.keys());
  const out = new Float32Array(keys.length * DIM);
  const missing = arena.lookup(keys, out);
  const evicted = new BigInt64Array(missing.length);
  for (let j = 0; j < missing.length; j++) evicted[j] = keys[missing[j]];
  model.erase(evicted);
  // Every key still held returns its exact row.
  const held = BigInt64Array.from(model.map.keys());
  const out2 = new Float32Array(held.length * DIM);
  const diff = compare(model, held, out2, arena.lookup(held, out2));
  assert.is(diff, null, `${what}: ${diff}`);
  assert.is(arena.size, model.map.size, `${what}: size`);
  return evicted;
}

test('evict_random: size stays within the margin, lands on the target, survivors keep their rows', () => {
  const rand = rng(21);
  const margin = 1000;
  for (const numPartitions of [1, 3]) {
    const arena = HostArena.create({ dim: DIM, numPartitions, overflowMargin: margin, overflowResolutionTarget: 0.6, overflowPolicy: 'evict_random' });
    const model = new RowModel(DIM);
    const inserted = new Set<bigint>();
    let evictedTotal = 0;
    for (let b = 0; b < 40; b++) {
      const keys = randomKeys(rand, 150, inserted);
      for (const k of keys) inserted.add(k);
      const rows = randomRows(rand, keys.length, DIM);
      arena.insert(keys, rows);
      model.insert(keys, rows);
      assert.ok(arena.size <= numPartitions * margin, `size ${arena.size} within the margin`);
      const evicted = settle(arena, model, `batch ${b}`);
      evictedTotal += evicted.length;
      for (const k of evicted) assert.ok(inserted.has(k), 'only inserted keys are evicted');
      if (numPartitions === 1 && evicted.length) assert.is(arena.size, 600, 'evicts down to target * margin');
    }
    assert.ok(evictedTotal > 0);
    assert.is(arena.stats().evictions, evictedTotal);
  }
});

test('evict_least_used: evicted keys were used no more than any key that stays', () => {
  const rand = rng(22);
  const arena = HostArena.create({ dim: DIM, numPartitions: 1, overflowMargin: 1000, overflowResolutionTarget: 0.5, overflowPolicy: 'evict_least_used' });
  const model = new RowModel(DIM);
  const uses = new Map<bigint, number>();
  const keys = randomKeys(rand, 1000);
  const rows = randomRows(rand, 1000, DIM);
  arena.insert(keys, rows);
  model.insert(keys, rows);
  for (const k of keys) uses.set(k, 0);
  // Lookups with a skewed number of uses per key, repeats within batches included.
  for (let r = 0; r < 30; r++) {
    const batch = new BigInt64Array(300);
    for (let i = 0; i < batch.length; i++) batch[i] = keys[Math.floor(rand() ** 3 * keys.length)];
    arena.lookup(batch, new Float32Array(batch.length * DIM));
    for (const k of batch) uses.set(k, uses.get(k)! + 1);
  }
  // Replacing rows keeps their use counts.
  const replaced = keys.subarray(0, 400);
  const newRows = randomRows(rand, replaced.length, DIM);
  arena.insert(replaced, newRows);
  model.insert(replaced, newRows);
  const fresh = randomKeys(rand, 200, new Set(keys));
  const freshRows = randomRows(rand, 200, DIM);
  arena.insert(fresh, freshRows);
  model.insert(fresh, freshRows);
  for (const k of fresh) uses.set(k, 0);
  const evicted = settle(arena, model, 'after overflow');
  assert.is(evicted.length, 1200 - 500);
  const maxEvicted = Math.max(...[...evicted].map((k) => uses.get(k)!));
  const minKept = Math.min(...[...model.map.keys()].map((k) => uses.get(k)!));
  assert.ok(maxEvicted <= minKept, `evicted keys used up to ${maxEvicted} times, kept ones from ${minKept}`);
});

test('evict_oldest: evicted keys were inserted, updated or read no later than any key that stays', () => {
  const rand = rng(23);
  const arena = HostArena.create({ dim: DIM, numPartitions: 1, overflowMargin: 1000, overflowResolutionTarget: 0.5, overflowPolicy: 'evict_oldest' });
  const model = new RowModel(DIM);
  const stamp = new Map<bigint, number>();
  const all: bigint[] = [];
  for (let b = 1; b <= 12; b++) {
    const keys = randomKeys(rand, 150, new Set(all));
    all.push(...keys);
    // Update a few older keys too: an update makes a key young again.
    const old = Array.from({ length: 20 }, () => all[Math.floor(rand() * (all.length - 150))]).filter((k) => model.map.has(k));
    const batch = BigInt64Array.from([...keys, ...old]);
    const rows = randomRows(rand, batch.length, DIM);
    arena.insert(batch, rows);
    model.insert(batch, rows);
    for (const k of batch) stamp.set(k, 2 * b);
    const evicted = settle(arena, model, `batch ${b}`);
    // settle reads every key it keeps: a read is an access too.
    for (const k of model.map.keys()) stamp.set(k, 2 * b + 1);
    assert.ok(arena.size <= 1000);
    if (evicted.length) {
      const newestEvicted = Math.max(...[...evicted].map((k) => stamp.get(k)!));
      const oldestKept = Math.min(...[...model.map.keys()].map((k) => stamp.get(k)!));
      assert.ok(newestEvicted <= oldestKept, `batch ${b}: evicted keys from batch ${newestEvicted}, kept ones from ${oldestKept}`);
      assert.is(arena.size, 500);
    }
  }
  assert.ok(arena.stats().evictions > 0);
});

test('evict_oldest evicts by last access: rows read after a later insert outlive it', () => {
  for (const numPartitions of [1, 3]) {
    const rand = rng(25 + numPartitions);
    const margin = 1000;
    const arena = HostArena.create({ dim: DIM, numPartitions, overflowMargin: margin, overflowResolutionTarget: 0.5, overflowPolicy: 'evict_oldest' });
    const n = (k: number) => k * numPartitions;
    const a = randomKeys(rand, n(600));
    const b = randomKeys(rand, n(250), new Set(a));
    const c = randomKeys(rand, n(250), new Set([...a, ...b]));
    const model = new RowModel(DIM);
    for (const keys of [a, b]) {
      const rows = randomRows(rand, keys.length, DIM);
      arena.insert(keys, rows);
      model.insert(keys, rows);
    }
    assert.is(arena.stats().evictions, 0, 'no partition over its margin yet');
    // Read A (inserted first) after B: A is now the more recently used.
    const outA = new Float32Array(a.length * DIM);
    assert.is(compare(model, a, outA, arena.lookup(a, outA)), null);
    const rowsC = randomRows(rand, c.length, DIM);
    arena.insert(c, rowsC);   // overflow in every partition past its margin
    model.insert(c, rowsC);
    const evicted = new Set(settle(arena, model, `${numPartitions} partitions`));
    assert.ok(arena.stats().evictions > 0, 'overflow evicted');
    for (const k of b) assert.ok(evicted.has(k), `B's key ${k} (inserted after A, never read) is evicted first`);
    for (const k of c) assert.ok(!evicted.has(k), `C's key ${k} (the newest) stays`);
    assert.is(a.filter((k) => evicted.has(k)).length, evicted.size - b.length, 'the rest of the eviction came from A');
  }
});

test('overflow eviction leaves tombstones that later inserts and index rebuilds handle', () => {
  const rand = rng(24);
  const arena = HostArena.create({ dim: DIM, numPartitions: 2, overflowMargin: 3000, overflowResolutionTarget: 0.3 });
  const model = new RowModel(DIM);
  for (let b = 0; b < 30; b++) {
    const keys = randomKeys(rand, 700, new Set(model.map.keys()));
    const rows = randomRows(rand, keys.length, DIM);
    arena.insert(keys, rows);
    model.insert(keys, rows);
    settle(arena, model, `round ${b}`);
  }
  const l = arena.layout(0);
  assert.ok(l.indexCapacity < 20000, `index capacity ${l.indexCapacity} stays bounded by the margin, not by keys ever inserted`);
});

test.run();
