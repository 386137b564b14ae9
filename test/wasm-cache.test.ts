import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmEmbeddingCache } from '../engine/cache/wasm-cache.js';
import type { CachePolicy } from '../engine/config/types.js';
import { rng, randomBitKeys as randomKeys } from './helpers/random.js';
import { throwsHps } from './helpers/expect-error.js';

// An independent model of the cache rules documented in docs/l1-cache.md: the set of a key is
// hi32(fmix64(key)) * numSets >> 32; an empty way (lowest index) first, else LRU: smallest stamp, LFU:
// smallest count then smallest stamp, ties to the lowest way; the clock advances once per query/insert.
const M64 = (1n << 64n) - 1n;
function fmix64(key: bigint): bigint {
  let k = BigInt.asUintN(64, key);
  k ^= k >> 33n; k = (k * 0xff51afd7ed558ccdn) & M64;
  k ^= k >> 33n; k = (k * 0xc4ceb93fe53d4ce9n) & M64;
  return k ^ (k >> 33n);
}

interface Slot { key: bigint; row: Float32Array; stamp: number; count: number }

class ModelCache {
  readonly sets: (Slot | null)[][];
  clock = 0;
  hits = 0; misses = 0; insertions = 0; evictions = 0;
  constructor(readonly numSets: number, readonly ways: number, readonly dim: number, readonly policy: CachePolicy) {
    this.sets = Array.from({ length: numSets }, () => new Array<Slot | null>(ways).fill(null));
  }
  setOf(key: bigint): number { return Number(((fmix64(key) >> 32n) * BigInt(this.numSets)) >> 32n); }
  find(key: bigint): Slot | null { return this.sets[this.setOf(key)].find((s) => s?.key === key) ?? null; }
  query(keys: BigInt64Array, out: Float32Array): number[] {
    if (keys.length) this.clock++;
    const missed: number[] = [];
    keys.forEach((k, i) => {
      const s = this.find(k);
      if (!s) { missed.push(i); this.misses++; return; }
      out.set(s.row, i * this.dim);
      s.stamp = this.clock;
      if (this.policy === 'lfu') s.count++;
      this.hits++;
    });
    return missed;
  }
  insert(keys: BigInt64Array, vectors: Float32Array): void {
    if (keys.length) this.clock++;
    keys.forEach((k, i) => {
      const row = vectors.slice(i * this.dim, (i + 1) * this.dim);
      const s = this.find(k);
      if (s) { s.row = row; s.count++; s.stamp = this.clock; return; }
      const set = this.sets[this.setOf(k)];
      let w = set.indexOf(null);
      if (w < 0) {
        w = 0;
        for (let j = 1; j < this.ways; j++) {
          const a = set[j]!, b = set[w]!;
          const better = this.policy === 'lfu' ? a.count < b.count || (a.count === b.count && a.stamp < b.stamp) : a.stamp < b.stamp;
          if (better) w = j;
        }
        this.evictions++;
      }
      set[w] = { key: k, row, stamp: this.clock, count: 1 };
      this.insertions++;
    });
  }
  update(keys: BigInt64Array, vectors: Float32Array): number {
    let n = 0;
    keys.forEach((k, i) => { const s = this.find(k); if (s) { s.row = vectors.slice(i * this.dim, (i + 1) * this.dim); n++; } });
    return n;
  }
  erase(keys: BigInt64Array): number {
    let n = 0;
    keys.forEach((k) => {
      const set = this.sets[this.setOf(k)];
      const w = set.findIndex((s) => s?.key === k);
      if (w >= 0) { set[w] = null; n++; }
    });
    return n;
  }
  /** Keys in set order, ways ascending (the order dumpSync documents). */
  dump(): bigint[] { return this.sets.flatMap((set) => set.filter((s): s is Slot => s !== null).map((s) => s.key)); }
  size(): number { return this.dump().length; }
}



function randomRows(rand: () => number, n: number, dim: number): Float32Array {
  return Float32Array.from({ length: n * dim }, () => rand() * 2 - 1 || 0.5);
}

function pick(rand: () => number, universe: BigInt64Array, n: number): BigInt64Array {
  return BigInt64Array.from({ length: n }, () => universe[Math.floor(rand() * universe.length)]);
}

function checkAgainst(cache: WasmEmbeddingCache, model: ModelCache, step: string): void {
  assert.equal(Array.from(cache.dumpSync()), model.dump(), `${step}: dump`);
  const s = cache.stats();
  assert.equal(
    [s.size, s.hits, s.misses, s.insertions, s.evictions],
    [model.size(), model.hits, model.misses, model.insertions, model.evictions],
    `${step}: stats`,
  );
  assert.ok(s.size <= cache.capacity, `${step}: size ${s.size} within capacity ${cache.capacity}`);
}

function randomStream(policy: CachePolicy, seed: number, dim: number, ops: number, ways = 8): void {
  const rand = rng(seed);
  const cache = WasmEmbeddingCache.create({ dim, capacity: 64, policy, ways });
  const model = new ModelCache(cache.numSets, cache.ways, dim, policy);
  const universe = randomKeys(rand, 160);
  for (let op = 0; op < ops; op++) {
    const kind = rand();
    const keys = pick(rand, universe, 1 + Math.floor(rand() * 40));
    const step = `op ${op}`;
    if (kind < 0.4) {
      const out = randomRows(rand, keys.length, dim);
      const expected = out.slice();
      const missed = cache.querySync(keys, out);
      assert.equal(Array.from(missed), model.query(keys, expected), `${step}: missed positions`);
      assert.equal(out, expected, `${step}: hit rows and untouched miss rows`);
    } else if (kind < 0.8) {
      const rows = randomRows(rand, keys.length, dim);
      cache.insertSync(keys, rows);
      model.insert(keys, rows);
    } else if (kind < 0.9) {
      const rows = randomRows(rand, keys.length, dim);
      assert.is(cache.updateSync(keys, rows), model.update(keys, rows), `${step}: rows updated`);
    } else {
      assert.is(cache.eraseSync(keys), model.erase(keys), `${step}: keys erased`);
    }
    checkAgainst(cache, model, step);
  }
}

test('the set index is hi32(fmix64(key)) * numSets >> 32', () => {
  const cache = WasmEmbeddingCache.create({ dim: 4, capacity: 1000, ways: 8 });
  const model = new ModelCache(cache.numSets, 8, 4, 'lru');
  for (const k of randomKeys(rng(1), 200)) assert.is(cache.setIndexOf(k), model.setOf(k), `key ${k}`);
});

test('LRU: a random stream of queries, inserts, updates and erases matches the model exactly', () => {
  randomStream('lru', 11, 8, 400);
});

test('LFU: a random stream of queries, inserts, updates and erases matches the model exactly', () => {
  randomStream('lfu', 12, 8, 400);
});

test('LRU and LFU with 1, 2, 16 and 32 ways', () => {
  randomStream('lru', 15, 4, 150, 1);
  randomStream('lfu', 16, 4, 150, 2);
  randomStream('lru', 17, 4, 150, 16);
  randomStream('lfu', 18, 4, 150, 32);
  randomStream('lru', 19, 4, 150, 32);
});

test('LRU and LFU with rows that are not a multiple of 4 floats', () => {
  randomStream('lru', 13, 7, 150);
  randomStream('lfu', 14, 5, 150);
});

/** `count` keys that map to one set of `cache`. */
function keysOfOneSet(cache: WasmEmbeddingCache, count: number): bigint[] {
  const rand = rng(99);
  const bySet = new Map<number, bigint[]>();
  for (;;) {
    const k = randomKeys(rand, 1)[0];
    const set = cache.setIndexOf(k);
    const list = bySet.get(set) ?? [];
    list.push(k);
    bySet.set(set, list);
    if (list.length === count) return list;
  }
}

function has(cache: WasmEmbeddingCache, key: bigint): boolean {
  return cache.querySync(new BigInt64Array([key]), new Float32Array(cache.dim)).length === 0;
}

test('LRU evicts the least recently used way of the set; ties go to the lowest way', () => {
  const cache = WasmEmbeddingCache.create({ dim: 4, capacity: 64, policy: 'lru', ways: 8 });
  const k = keysOfOneSet(cache, 11);
  const row = new Float32Array([1, 2, 3, 4]);
  for (let i = 0; i < 8; i++) cache.insertSync(new BigInt64Array([k[i]]), row); // way i, stamp i + 1
  cache.querySync(new BigInt64Array([k[0], k[2]]), new Float32Array(8)); // k0, k2 become the newest
  cache.insertSync(new BigInt64Array([k[8]]), row);
  assert.equal(Array.from(cache.dumpSync()), [k[0], k[8], k[2], k[3], k[4], k[5], k[6], k[7]], 'k1 (way 1) evicted');
  // One call gives every key it touches the same stamp: k3..k8 get the newest; k0 and k2 still tie.
  cache.querySync(new BigInt64Array([k[3], k[4], k[5], k[6], k[7], k[8]]), new Float32Array(24));
  cache.insertSync(new BigInt64Array([k[9], k[10]]), new Float32Array(8).fill(2));
  // k0 and k2 had the same stamp: k9 takes way 0 (k0, lowest way), then k10 takes way 2 (k2).
  assert.equal(Array.from(cache.dumpSync()), [k[9], k[8], k[10], k[3], k[4], k[5], k[6], k[7]]);
  assert.is(cache.stats().evictions, 3);
});

test('LFU evicts the least frequently used way; equal counts go to the older stamp, then the lowest way', () => {
  const cache = WasmEmbeddingCache.create({ dim: 4, capacity: 64, policy: 'lfu', ways: 8 });
  const k = keysOfOneSet(cache, 10);
  const row = new Float32Array([1, 2, 3, 4]);
  cache.insertSync(new BigInt64Array(k.slice(0, 8)), new Float32Array(32).fill(1)); // all count 1, one stamp
  const touch = (keys: bigint[]) => cache.querySync(new BigInt64Array(keys), new Float32Array(keys.length * 4));
  touch([k[0], k[1], k[2], k[3], k[5], k[6], k[7]]); // count 2 for all but k4
  touch([k[0], k[1], k[2], k[3], k[4], k[5], k[6]]); // k4: 2 (newest), k7: 2 (older), others 3
  cache.insertSync(new BigInt64Array([k[8]]), row);
  assert.ok(!has(cache, k[7]), 'k7: lowest count, older stamp than k4');
  // k4 has count 2, k8 count 1 (has(k7) missed and touched nothing).
  cache.insertSync(new BigInt64Array([k[9]]), row);
  assert.ok(!has(cache, k[8]), 'k8: count 1, evicted next');
  assert.ok(has(cache, k[4]) && has(cache, k[9]));
});

test('hits return the exact vectors; update writes in place; replace keeps one slot; erase, dump, clear', () => {
  const rand = rng(5);
  const dim = 16;
  const cache = WasmEmbeddingCache.create({ dim, capacity: 1024 });
  const keys = randomKeys(rand, 300);
  const rows = randomRows(rand, 300, dim);
  cache.insertSync(keys, rows);
  const s0 = cache.stats();
  const reference = new Map<bigint, Float32Array>();
  keys.forEach((k, i) => reference.set(k, rows.slice(i * dim, (i + 1) * dim)));
  const cached = cache.dumpSync();
  assert.is(cached.length, s0.size);
  assert.is(s0.size + s0.evictions, 300);
  const out = new Float32Array(cached.length * dim);
  assert.is(cache.querySync(cached, out).length, 0);
  cached.forEach((k, i) => assert.equal(out.subarray(i * dim, (i + 1) * dim), reference.get(k)));

  const fresh = randomRows(rand, cached.length, dim);
  const absent = randomKeys(rng(6), 5);
  assert.is(cache.updateSync(cached, fresh), cached.length);
  assert.is(cache.updateSync(absent, randomRows(rand, 5, dim)), 0);
  assert.is(cache.querySync(absent, new Float32Array(5 * dim)).length, 5, 'update does not insert');
  cache.querySync(cached, out);
  assert.equal(out, fresh);
  cache.insertSync(cached.subarray(0, 10), rows.subarray(0, 10 * dim));
  assert.is(cache.stats().size, s0.size, 'replacing keeps the size');
  assert.is(cache.eraseSync(cached.subarray(0, 20)), 20);
  assert.is(cache.eraseSync(cached.subarray(0, 20)), 0);
  assert.is(cache.stats().size, s0.size - 20);
  assert.equal(Array.from(cache.querySync(cached.subarray(0, 25), new Float32Array(25 * dim))), Array.from({ length: 20 }, (_, i) => i));
  cache.clearSync();
  assert.is(cache.stats().size, 0);
  assert.is(cache.dumpSync().length, 0);
  assert.is(cache.querySync(cached, out).length, cached.length);
});

test('batches larger than a chunk, with rows of 300 floats (chunks of 873 keys)', () => {
  const rand = rng(8);
  const dim = 300;
  const cache = WasmEmbeddingCache.create({ dim, capacity: 4096, policy: 'lfu', ways: 16 });
  const model = new ModelCache(cache.numSets, 16, dim, 'lfu');
  const universe = randomKeys(rand, 5000);
  for (let round = 0; round < 4; round++) {
    const keys = pick(rand, universe, 2500);
    const rows = randomRows(rand, keys.length, dim);
    cache.insertSync(keys, rows);
    model.insert(keys, rows);
    const query = pick(rand, universe, 3000);
    const out = randomRows(rand, query.length, dim);
    const expected = out.slice();
    assert.equal(Array.from(cache.querySync(query, out)), model.query(query, expected));
    assert.ok(out.every((v, i) => v === expected[i]), `round ${round}: rows`);
    checkAgainst(cache, model, `round ${round}`);
  }
});

test('capacity is rounded up to whole sets and never exceeded', () => {
  const cache = WasmEmbeddingCache.create({ dim: 2, capacity: 10, ways: 8 });
  assert.is(cache.capacity, 16);
  assert.is(cache.numSets, 2);
  const rand = rng(3);
  for (let i = 0; i < 20; i++) {
    cache.insertSync(randomKeys(rand, 50), randomRows(rand, 50, 2));
    assert.ok(cache.stats().size <= 16);
  }
  assert.is(cache.stats().size, 16);
  assert.is(cache.dumpSync().length, 16);
});

test('bad options name the option, the value and what was expected', () => {
  throwsHps(() => WasmEmbeddingCache.create({ dim: 0, capacity: 10 }), 'BAD_CONFIG', /dim: expected an integer in \[1, 65536\], got 0/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 2.5, capacity: 10 }), 'BAD_CONFIG', /dim: .*got 2\.5/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 8, capacity: 0 }), 'BAD_CONFIG', /capacity: expected an integer >= 1 \(rows\), got 0/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 8, capacity: -3 }), 'BAD_CONFIG', /capacity: .*got -3/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 8, capacity: 8, ways: 3 }), 'BAD_CONFIG', /ways: expected one of 1, 2, 4, 8, 16, 32, got 3/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 8, capacity: 8, policy: 'fifo' as CachePolicy }), 'BAD_CONFIG', /policy: expected 'lru' or 'lfu', got fifo/);
  throwsHps(() => WasmEmbeddingCache.create({ dim: 1024, capacity: 2 ** 21 }), 'CAPACITY', /needs \d+ bytes, more than the 4294967296 bytes/);
  throwsHps(() => WasmEmbeddingCache.attach({} as never), 'BAD_CONFIG', /expected a handle/);
});

test('bad inputs name the argument and the expected size, and leave the cache as it was', () => {
  const rand = rng(21);
  const cache = WasmEmbeddingCache.create({ dim: 8, capacity: 64 });
  const keys = randomKeys(rand, 3);
  cache.insertSync(keys, randomRows(rand, 3, 8));
  const before = { dump: Array.from(cache.dumpSync()), stats: cache.stats() };
  const out = new Float32Array(24);
  cache.querySync(keys, out);
  const rowsBefore = out.slice();
  const before2 = { dump: Array.from(cache.dumpSync()), stats: cache.stats() };
  throwsHps(() => cache.insertSync(keys, new Float32Array(23).fill(7)), 'BAD_VECTOR', /vectors: expected a Float32Array of keys\.length x dim = 3 x 8 = 24 floats, got a Float32Array of 23/);
  throwsHps(() => cache.updateSync(keys, new Float32Array(25).fill(7)), 'BAD_VECTOR', /= 24 floats, got a Float32Array of 25/);
  throwsHps(() => cache.insertSync(keys, new Float64Array(24) as never), 'BAD_VECTOR', /got a Float64Array of 24/);
  throwsHps(() => cache.querySync(keys, new Float32Array(23)), 'BAD_OUTPUT', /out: expected a Float32Array of at least keys\.length x dim = 3 x 8 = 24 floats, got a Float32Array of 23/);
  throwsHps(() => cache.querySync([1, 2] as never, out), 'BAD_KEY', /keys: expected a BigInt64Array/);
  throwsHps(() => cache.eraseSync(new BigUint64Array(2) as never), 'BAD_KEY', /got a BigUint64Array of 2/);
  assert.equal({ dump: Array.from(cache.dumpSync()), stats: cache.stats() }, before2);
  assert.ok(before.stats.hits === 0 && before2.stats.hits === 3);
  const again = new Float32Array(24);
  cache.querySync(keys, again);
  assert.equal(again, rowsBefore, 'rows unchanged');
});

test('the async methods resolve with the sync results and reject with HpsError', async () => {
  const rand = rng(31);
  const cache = WasmEmbeddingCache.create({ dim: 4, capacity: 32 });
  const keys = randomKeys(rand, 4);
  const rows = randomRows(rand, 4, 4);
  await cache.insert(keys, rows);
  const out = new Float32Array(16);
  assert.equal(Array.from(await cache.query(keys, out)), []);
  assert.equal(out, rows);
  assert.is(await cache.update(keys.subarray(0, 2), rows.subarray(0, 8)), 2);
  assert.is((await cache.dump()).length, 4);
  assert.is(await cache.erase(keys.subarray(0, 1)), 1);
  await cache.clear();
  assert.is(cache.stats().size, 0);
  await cache.insert(keys, new Float32Array(3)).then(() => assert.unreachable('resolved'), (err) => assert.is(err.code, 'BAD_VECTOR'));
  await cache.close();
  throwsHps(() => cache.querySync(keys, out), 'CLOSED', /closed/);
});

test('an attached instance sees the same rows, and a closed instance hands its scratch area on', () => {
  const rand = rng(41);
  const cache = WasmEmbeddingCache.create({ dim: 8, capacity: 64 });
  const keys = randomKeys(rand, 10);
  const rows = randomRows(rand, 10, 8);
  const other = WasmEmbeddingCache.attach(cache.handle());
  other.insertSync(keys, rows);
  const out = new Float32Array(80);
  assert.is(cache.querySync(keys, out).length, 0);
  assert.equal(out, rows);
  const bytes = cache.handle().memory.buffer.byteLength;
  void other.close();
  const third = WasmEmbeddingCache.attach(cache.handle());
  assert.is(cache.handle().memory.buffer.byteLength, bytes, 'the released scratch area was reused');
  assert.is(third.querySync(keys, out).length, 0);
});

test.run();
