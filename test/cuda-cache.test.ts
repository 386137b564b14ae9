import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CudaEmbeddingCache, type Combiner } from '../engine/cache/cuda-cache.js';
import { WasmEmbeddingCache } from '../engine/cache/wasm-cache.js';
import { loadNative, type NativeAddon } from '../engine/native.js';
import { HpsError } from '../engine/errors.js';
import type { CachePolicy } from '../engine/config/types.js';
import { rng, randomBitKeys as randomKeys } from './helpers/random.js';

// The CUDA cache on real GPUs, against the WASM cache and an independent JS model on the same random
// operation streams. Without a GPU (CI) the suite registers no test and prints why.
const native = loadNative();
if (!native.ok) {
  console.log(`cuda-cache: skipped, ${native.reason}`);
} else {
  const addon: NativeAddon = native.addon;

  function distinct(keys: BigInt64Array): BigInt64Array {
    return BigInt64Array.from(new Set(keys));
  }
  function randomRows(rand: () => number, n: number, dim: number): Float32Array {
    return Float32Array.from({ length: n * dim }, () => rand() * 2 - 1 || 0.5);
  }
  function pick(rand: () => number, universe: BigInt64Array, n: number): BigInt64Array {
    return BigInt64Array.from({ length: n }, () => universe[Math.floor(rand() * universe.length)]);
  }
  function sorted(keys: Iterable<bigint>): bigint[] {
    return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // Same stream into both caches, sized so that neither evicts: every answer must be identical.
  async function sameAsWasm(opts: { dim: number; policy: CachePolicy; seed: number; ops: number; devices?: number[]; mode?: 'replicated' | 'sharded'; directWrite?: boolean; tile?: 8 | 16 | 32; chunk?: number }): Promise<void> {
    const { dim, seed } = opts;
    const rand = rng(seed);
    const gpu = CudaEmbeddingCache.create({ dim, capacity: 16384, policy: opts.policy, devices: opts.devices, deviceMode: opts.mode, directWrite: opts.directWrite, queryTile: opts.tile, queryChunk: opts.chunk });
    const cpu = WasmEmbeddingCache.create({ dim, capacity: 1 << 16, policy: opts.policy, ways: 32 });
    const universe = randomKeys(rand, 3000);
    const pinned = gpu.pinnedFloat32(400 * dim);
    try {
      for (let op = 0; op < opts.ops; op++) {
        const kind = rand();
        const keys = pick(rand, universe, 1 + Math.floor(rand() * 300));
        const step = `seed ${seed} op ${op}`;
        if (kind < 0.4) {
          const usePinned = rand() < 0.5;
          const a = usePinned ? pinned.subarray(0, keys.length * dim) : randomRows(rand, keys.length, dim);
          if (usePinned) a.set(randomRows(rand, keys.length, dim));
          const b = a.slice();
          const [ma, mb] = await Promise.all([gpu.query(keys, a), cpu.query(keys, b)]);
          assert.equal(Array.from(ma), Array.from(mb), `${step}: missing positions`);
          assert.equal(a, b, `${step}: hit rows, and miss rows left as they were`);
        } else if (kind < 0.8) {
          const rows = randomRows(rand, keys.length, dim);
          await Promise.all([gpu.insert(keys, rows), cpu.insert(keys, rows)]);
        } else if (kind < 0.9) {
          const unique = distinct(keys);
          const rows = randomRows(rand, unique.length, dim);
          assert.is(await gpu.update(unique, rows), await cpu.update(unique, rows), `${step}: rows updated`);
        } else if (kind < 0.99) {
          assert.is(await gpu.erase(keys), await cpu.erase(keys), `${step}: keys erased`);
        } else {
          await Promise.all([gpu.clear(), cpu.clear()]);
        }
        if (op % 25 === 24) {
          assert.equal(sorted(await gpu.dump()), sorted(await cpu.dump()), `${step}: dump`);
        }
      }
      const g = gpu.stats(), c = cpu.stats();
      assert.equal([g.size, g.hits, g.misses, g.insertions, g.evictions], [c.size, c.hits, c.misses, c.insertions, c.evictions], 'stats');
    } finally {
      await gpu.close();
      await cpu.close();
    }
  }

  // A query long enough that the host lists its misses in several parts at once (64 Ki positions or
  // more each): every missing position, in order, and every hit row, against a JS model.
  for (const layout of [{ devices: [0], mode: 'replicated' as const }, { devices: native.devices >= 2 ? [0, 1] : [0, 0], mode: 'sharded' as const }]) {
    test(`a 300,000-key query lists its misses in order (${layout.mode} on devices ${layout.devices.join(', ')})`, async () => {
      const dim = 8;
      const rand = rng(71);
      const gpu = CudaEmbeddingCache.create({ dim, capacity: 1 << 18, devices: layout.devices, deviceMode: layout.mode, queryChunk: 0 });
      try {
        const stored = distinct(randomKeys(rand, 150000));
        const rows = randomRows(rand, stored.length, dim);
        await gpu.insert(stored, rows);
        const rowOf = new Map<bigint, number>();
        stored.forEach((k, i) => rowOf.set(k, i));
        const held = new Set(await gpu.dump());
        const absent = randomKeys(rand, 100000).filter((k) => !rowOf.has(k));
        const keys = BigInt64Array.from({ length: 300000 }, () => (rand() < 0.3 ? absent[Math.floor(rand() * absent.length)] : stored[Math.floor(rand() * stored.length)]));
        const out = new Float32Array(keys.length * dim).fill(7);
        const missing = await gpu.query(keys, out);
        const want = [...keys.keys()].filter((i) => !held.has(keys[i]));
        assert.ok(want.length > 80000, `${want.length} misses expected`);
        assert.equal(Array.from(missing), want);
        for (let i = 0; i < keys.length; i++) {
          const r = rowOf.get(keys[i]);
          const got = Array.from(out.subarray(i * dim, (i + 1) * dim));
          assert.equal(got, held.has(keys[i]) ? Array.from(rows.subarray(r! * dim, (r! + 1) * dim)) : new Array(dim).fill(7), `key ${i}`);
        }
      } finally {
        await gpu.close();
      }
    });
  }

  test('same hits, vectors, counts and dumps as WasmEmbeddingCache (LRU, dim 32, one device)', async () => {
    await sameAsWasm({ dim: 32, policy: 'lru', seed: 1, ops: 400 });
  });
  test('same as WasmEmbeddingCache at dim 13 (unaligned rows), LFU, query tile 16', async () => {
    await sameAsWasm({ dim: 13, policy: 'lfu', seed: 2, ops: 300, tile: 16 });
  });
  test('same as WasmEmbeddingCache with rows copied back from device memory (directWrite off), tile 32, queries in chunks of 64', async () => {
    await sameAsWasm({ dim: 64, policy: 'lru', seed: 3, ops: 200, directWrite: false, tile: 32, chunk: 64 });
  });
  test('replicated on device 0 listed twice: same answers as WasmEmbeddingCache', async () => {
    await sameAsWasm({ dim: 16, policy: 'lru', seed: 4, ops: 300, devices: [0, 0], mode: 'replicated' });
  });
  test('sharded over device 0 listed three times: same answers as WasmEmbeddingCache (queries in chunks of 50)', async () => {
    await sameAsWasm({ dim: 16, policy: 'lfu', seed: 5, ops: 300, devices: [0, 0, 0], mode: 'sharded', chunk: 50 });
  });

  if (native.devices >= 2) {
    const two = [0, 1];
    test('replicated on devices 0 and 1: same answers as WasmEmbeddingCache', async () => {
      await sameAsWasm({ dim: 24, policy: 'lru', seed: 6, ops: 300, devices: two, mode: 'replicated' });
    });
    test('sharded over devices 0 and 1: same answers as WasmEmbeddingCache', async () => {
      await sameAsWasm({ dim: 24, policy: 'lfu', seed: 7, ops: 300, devices: two, mode: 'sharded', chunk: 100 });
    });
  } else {
    console.log(`cuda-cache: one CUDA device here; the tests across two real devices are not run`);
  }

  // A model of what is cached, with each key's last access (call number) and access count, checked
  // against dump() after every insert: evictions only from full buckets, and only of a key no more
  // recently (LRU) or no more often (LFU) used than every key kept in its bucket that this insert did
  // not touch.
  async function evictionRules(policy: CachePolicy, seed: number, mode: 'replicated' | 'sharded', devices: number[]): Promise<void> {
    const dim = 8;
    const rand = rng(seed);
    const gpu = CudaEmbeddingCache.create({ dim, capacity: 1024, policy, devices, deviceMode: mode });
    const copies = mode === 'sharded' ? devices.length : 1;
    const buckets = gpu.capacity / copies / addon.bucketSlots;
    const universe = randomKeys(rand, 5000);
    const model = new Map<bigint, { row: Float32Array; last: number; count: number }>();
    const where = (keys: BigInt64Array) => {
      const p = addon.placement(keys, buckets, copies);
      return (i: number) => (mode === 'sharded' ? p.shard[i] * buckets : 0) + p.bucket[i];
    };
    let evictions = 0;
    try {
      for (let call = 1; call <= 150; call++) {
        const step = `${policy} seed ${seed} call ${call}`;
        if (rand() < 0.5) {
          const keys = pick(rand, universe, 1 + Math.floor(rand() * 400));
          const out = randomRows(rand, keys.length, dim);
          const expected = out.slice();
          const missing = await gpu.query(keys, out);
          const expectMissing: number[] = [];
          keys.forEach((k, i) => {
            const m = model.get(k);
            if (!m) return void expectMissing.push(i);
            expected.set(m.row, i * dim);
            m.last = call;
            m.count++;
          });
          assert.equal(Array.from(missing), expectMissing, `${step}: missing positions`);
          assert.equal(out, expected, `${step}: rows`);
          continue;
        }
        const keys = distinct(pick(rand, universe, 1 + Math.floor(rand() * 300)));
        const rows = randomRows(rand, keys.length, dim);
        await gpu.insert(keys, rows);
        const touched = new Set(keys);
        keys.forEach((k, i) => {
          const m = model.get(k);
          model.set(k, { row: rows.slice(i * dim, (i + 1) * dim), last: call, count: m ? m.count + 1 : 1 });
        });
        const dumped = await gpu.dump();
        const held = new Set(dumped);
        assert.is(held.size, dumped.length, `${step}: dump has no duplicates`);
        assert.is(gpu.stats().size, dumped.length, `${step}: stats.size`);
        const bucketOfDumped = where(dumped);
        const perBucket = new Map<number, bigint[]>();
        dumped.forEach((k, i) => {
          assert.ok(model.has(k), `${step}: dumped key ${k} was never inserted or was erased`);
          const b = bucketOfDumped(i);
          perBucket.set(b, [...(perBucket.get(b) ?? []), k]);
        });
        const gone = BigInt64Array.from([...model.keys()].filter((k) => !held.has(k)));
        const bucketOfGone = where(gone);
        gone.forEach((k, i) => {
          const b = bucketOfGone(i);
          const kept = perBucket.get(b) ?? [];
          assert.is(kept.length, addon.bucketSlots, `${step}: key ${k} evicted from bucket ${b} holding ${kept.length} keys, not full`);
          const victim = model.get(k)!;
          if (!touched.has(k)) {
            for (const other of kept) {
              if (touched.has(other)) continue;
              const o = model.get(other)!;
              if (policy === 'lru') assert.ok(o.last >= victim.last, `${step}: LRU evicted ${k} (used at call ${victim.last}) but kept ${other} (call ${o.last})`);
              else assert.ok(o.count >= victim.count, `${step}: LFU evicted ${k} (${victim.count} uses) but kept ${other} (${o.count})`);
            }
          }
          model.delete(k);
          evictions++;
        });
      }
      assert.ok(evictions > 100, `the stream evicted (${evictions} evictions)`);
      assert.is(gpu.stats().evictions, evictions, 'stats.evictions');
    } finally {
      await gpu.close();
    }
  }

  test('LRU evictions follow the policy within full buckets', async () => evictionRules('lru', 11, 'replicated', [0]));
  test('LFU evictions follow the policy within full buckets', async () => evictionRules('lfu', 12, 'replicated', [0]));
  test('sharded LRU over device 0 twice: evictions follow the policy per shard', async () => evictionRules('lru', 13, 'sharded', [0, 0]));
  if (native.devices >= 2) {
    test('sharded LFU over devices 0 and 1: evictions follow the policy per shard', async () => evictionRules('lfu', 14, 'sharded', [0, 1]));
  }

  test('requests in flight at once (queries split in chunks) settle in submission order: insert, query, update, query, erase, query', async () => {
    const dim = 24;
    const rand = rng(21);
    const gpu = CudaEmbeddingCache.create({ dim, capacity: 1 << 15, inFlight: 3, queryChunk: 1000 });
    try {
      const keys = distinct(randomKeys(rand, 5000));
      const v1 = randomRows(rand, keys.length, dim);
      const v2 = randomRows(rand, keys.length, dim);
      const outs = [0, 1, 2, 3].map(() => randomRows(rand, keys.length, dim));
      const before = outs[3].slice();
      const half = keys.subarray(0, keys.length >> 1);
      const p = [
        gpu.query(keys, outs[0]), gpu.insert(keys, v1), gpu.query(keys, outs[1]), gpu.update(keys, v2),
        gpu.query(keys, outs[2]), gpu.erase(half), gpu.query(keys, outs[3]),
      ];
      const [m0, , m1, updated, m2, erased, m3] = await Promise.all(p) as [Uint32Array, void, Uint32Array, number, Uint32Array, number, Uint32Array];
      assert.is(m0.length, keys.length, 'before the insert every key misses');
      assert.is(m1.length, 0, 'after the insert every key hits');
      assert.equal(outs[1], v1, 'rows after the insert');
      assert.is(updated, keys.length);
      assert.is(m2.length, 0);
      assert.equal(outs[2], v2, 'rows after the update');
      assert.is(erased, half.length);
      assert.equal(Array.from(m3), Array.from({ length: half.length }, (_, i) => i), 'erased half misses');
      const expected = v2.slice();
      expected.set(before.subarray(0, half.length * dim));
      assert.equal(outs[3], expected, 'erased rows left untouched, the rest updated');
    } finally {
      await gpu.close();
    }
  });

  test('duplicate keys: an insert keeps the last row, a query returns it at every position', async () => {
    const dim = 8;
    const rand = rng(31);
    const gpu = CudaEmbeddingCache.create({ dim, capacity: 4096 });
    try {
      const base = distinct(randomKeys(rand, 200));
      const keys = BigInt64Array.from([...base, ...base, ...base.subarray(0, 50)]);
      const rows = randomRows(rand, keys.length, dim);
      await gpu.insert(keys, rows);
      assert.is(gpu.stats().size, base.length);
      const out = new Float32Array(keys.length * dim);
      assert.is((await gpu.query(keys, out)).length, 0);
      const last = new Map<bigint, number>();
      keys.forEach((k, i) => last.set(k, i));
      keys.forEach((k, i) => {
        const j = last.get(k)!;
        assert.equal(out.subarray(i * dim, (i + 1) * dim), rows.subarray(j * dim, (j + 1) * dim), `position ${i}`);
      });
      assert.is(await gpu.erase(keys), base.length, 'each key erased once');
    } finally {
      await gpu.close();
    }
  });

  // Pooled lookups against a float64 reference: hits summed with weights, divisor over all keys of a row.
  async function pooled(combiner: Combiner, weighted: boolean, devices: number[], mode: 'replicated' | 'sharded', seed: number): Promise<void> {
    const dim = 20;
    const rand = rng(seed);
    const gpu = CudaEmbeddingCache.create({ dim, capacity: 1 << 14, devices, deviceMode: mode });
    try {
      const universe = distinct(randomKeys(rand, 2000));
      const present = universe.subarray(0, 1400);
      const rowsOf = randomRows(rand, present.length, dim);
      await gpu.insert(present, rowsOf);
      const index = new Map<bigint, number>();
      present.forEach((k, i) => index.set(k, i));
      const rows = 300;
      const offsets = new Uint32Array(rows + 1);
      for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r] + Math.floor(rand() * 12);
      const n = offsets[rows];
      const keys = pick(rand, universe, n);
      const weights = weighted ? Float32Array.from({ length: n }, () => rand() * 2 + 0.1) : null;
      // Even seeds write into pinned memory (straight from the device when one device serves the call).
      const out = seed % 2 ? randomRows(rand, rows, dim) : gpu.pinnedFloat32(rows * dim);
      if (!(seed % 2)) out.set(randomRows(rand, rows, dim));
      const missing = await gpu.queryPooled(keys, offsets, weights, combiner, out);
      const expectMissing: number[] = [];
      keys.forEach((k, i) => { if (!index.has(k)) expectMissing.push(i); });
      assert.equal(Array.from(missing), expectMissing, 'missing positions');
      let err = 0, ref2 = 0;
      for (let r = 0; r < rows; r++) {
        const acc = new Float64Array(dim);
        let ws = 0, w2 = 0;
        for (let k = offsets[r]; k < offsets[r + 1]; k++) {
          const w = weights ? weights[k] : 1;
          ws += w; w2 += w * w;
          const at = index.get(keys[k]);
          if (at === undefined) continue;
          for (let c = 0; c < dim; c++) acc[c] += w * rowsOf[at * dim + c];
        }
        const scale = combiner === 'sum' ? 1 : combiner === 'mean' ? (ws ? 1 / ws : 0) : (w2 ? 1 / Math.sqrt(w2) : 0);
        for (let c = 0; c < dim; c++) {
          const ref = acc[c] * scale;
          err += (out[r * dim + c] - ref) ** 2;
          ref2 += ref * ref;
        }
      }
      assert.ok(Math.sqrt(err / ref2) < 1e-5, `relative error ${Math.sqrt(err / ref2)}`);
    } finally {
      await gpu.close();
    }
  }
  test('pooled sum matches a float64 reference', async () => pooled('sum', false, [0], 'replicated', 41));
  test('pooled weighted mean into pinned memory matches a float64 reference', async () => pooled('mean', true, [0], 'replicated', 42));
  test('pooled weighted sqrtn matches a float64 reference', async () => pooled('sqrtn', true, [0], 'replicated', 43));
  test('pooled weighted sum, sharded over device 0 twice (partial sums added)', async () => pooled('sum', true, [0, 0], 'sharded', 44));
  if (native.devices >= 2) {
    test('pooled weighted mean, sharded over devices 0 and 1', async () => pooled('mean', true, [0, 1], 'sharded', 45));
    test('pooled sqrtn, replicated on devices 0 and 1', async () => pooled('sqrtn', false, [0, 1], 'replicated', 46));
  }

  test('misuse is an internal assertion (ParameterServer checks these first), the cache left as it was', async () => {
    const gpu = CudaEmbeddingCache.create({ dim: 4, capacity: 1024 });
    const rand = rng(51);
    const keys = distinct(randomKeys(rand, 10));
    const rows = randomRows(rand, keys.length, 4);
    await gpu.insert(keys, rows);
    const bug = async (p: () => Promise<unknown>, text: RegExp) => {
      try {
        await p();
      } catch (e) {
        assert.ok(!(e instanceof HpsError), String(e));
        assert.match((e as Error).message, /^hps-node internal error: /);
        assert.match((e as Error).message, text);
        return;
      }
      assert.unreachable('expected an internal assertion');
    };
    await bug(() => gpu.query([1, 2] as unknown as BigInt64Array, new Float32Array(8)), /keys must be a BigInt64Array/);
    await bug(() => gpu.query(keys, new Float32Array(39)), /at least keys.length x dim = 10 x 4 = 40 floats/);
    await bug(() => gpu.insert(keys, new Float32Array(41)), /10 x 4 = 40 floats/);
    await bug(() => gpu.queryPooled(keys, Uint32Array.of(0, 5, 3, 10), null, 'sum', new Float32Array(12)), /offsets\[2\] = 3 is below offsets\[1\] = 5/);
    await bug(() => gpu.queryPooled(keys, Uint32Array.of(0, 9), null, 'sum', new Float32Array(4)), /offsets must be a Uint32Array from 0 to keys.length \(10\)/);
    await bug(() => gpu.queryPooled(keys, Uint32Array.of(0, 10), new Float32Array(3), 'sum', new Float32Array(4)), /weights/);
    await bug(() => gpu.queryPooled(keys, Uint32Array.of(0, 10), null, 'max' as Combiner, new Float32Array(4)), /unknown combiner max/);
    const out = new Float32Array(40);
    assert.is((await gpu.query(keys, out)).length, 0, 'still every key');
    assert.equal(out, rows);
    assert.throws(() => CudaEmbeddingCache.create({ dim: 4, capacity: 1024, devices: [native.devices] }), (e: unknown) => e instanceof HpsError && e.code === 'BAD_CONFIG' && /devices\[0\]/.test(e.message));
    assert.throws(() => CudaEmbeddingCache.create({ dim: 0, capacity: 1024 }), (e: unknown) => e instanceof HpsError && /options.dim/.test(e.message));
    await gpu.close();
    try {
      await gpu.query(keys, out);
      assert.unreachable('a closed cache answered');
    } catch (e) {
      assert.ok(e instanceof HpsError && e.code === 'CLOSED' && /closed/.test(e.message), String(e));
    }
  });
}

test.run();
