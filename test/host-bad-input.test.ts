import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HpsError } from '../engine/errors.js';
import { HostArena, type HostArenaOptions } from '../engine/host/host-arena.js';
import { compare, randomKeys, randomRows, rng, RowModel } from './helpers/host-random.js';

function throwsHps(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, HpsError);
    assert.is((err as HpsError).code, code, (err as Error).message);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an HpsError ${code} matching ${pattern}`);
}

test('bad create options name the option, the value and what was expected', () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /options must be an object/],
    [{}, /options\.dim is undefined: expected an integer in \[1, /],
    [{ dim: 0 }, /options\.dim is 0: expected an integer/],
    [{ dim: 2.5 }, /options\.dim is 2\.5/],
    [{ dim: '8' }, /options\.dim is "8"/],
    [{ dim: 8, numPartitions: 0 }, /options\.numPartitions is 0: expected an integer in \[1, 4096\]/],
    [{ dim: 8, allocationRate: -1 }, /options\.allocationRate is -1/],
    [{ dim: 8, overflowMargin: 0 }, /options\.overflowMargin is 0/],
    [{ dim: 8, overflowPolicy: 'evict_lru' }, /options\.overflowPolicy is "evict_lru": expected evict_random \| evict_least_used \| evict_oldest/],
    [{ dim: 8, overflowResolutionTarget: 0 }, /options\.overflowResolutionTarget is 0: expected a number in \(0, 1\]/],
    [{ dim: 8, overflowResolutionTarget: 1.5 }, /overflowResolutionTarget is 1\.5/],
    [{ dim: 8, expectedKeys: -3 }, /options\.expectedKeys is -3/],
    [{ dim: 8, maxPartitionBytes: 1024 }, /options\.maxPartitionBytes is 1024: expected an integer in \[4194304, 4294967296\]/],
    [{ dim: 8, partitions: 4 }, /unknown option "partitions": expected one of dim, numPartitions/],
  ];
  for (const [options, pattern] of cases) throwsHps(() => HostArena.create(options as HostArenaOptions), 'BAD_CONFIG', pattern);
});

test('bad attach handles are refused', () => {
  throwsHps(() => HostArena.attach({} as never), 'BAD_CONFIG', /expected the object returned by arena\.handle\(\)/);
  const arena = HostArena.create({ dim: 4, numPartitions: 2 });
  const h = arena.handle();
  throwsHps(() => HostArena.attach({ ...h, memories: h.memories.slice(1) }), 'BAD_CONFIG', /2 WebAssembly\.Memory objects, got 1/);
  arena.close();
});

test('bad lookup, insert and erase arguments get precise errors and leave the arena as it was', () => {
  const rand = rng(31);
  const dim = 6;
  const arena = HostArena.create({ dim, numPartitions: 3 });
  const model = new RowModel(dim);
  const keys = randomKeys(rand, 500);
  const rows = randomRows(rand, 500, dim);
  arena.insert(keys, rows);
  model.insert(keys, rows);
  const before = arena.stats();

  const fresh = randomKeys(rand, 10, new Set(keys));
  throwsHps(() => arena.insert(fresh, new Float32Array(10 * dim - 1)), 'BAD_VECTOR', /vectors holds 59 floats; 10 keys of dim 6 need exactly 60/);
  throwsHps(() => arena.insert(fresh, new Float32Array(10 * dim + dim)), 'BAD_VECTOR', /holds 66 floats/);
  throwsHps(() => arena.insert(fresh, new Float64Array(10 * dim) as never), 'BAD_VECTOR', /vectors must be a Float32Array, got Float64Array/);
  throwsHps(() => arena.insert([1, 2] as never, new Float32Array(2 * dim)), 'BAD_KEY', /keys must be a BigInt64Array .*got Array/);
  throwsHps(() => arena.lookup(keys, new Float32Array(500 * dim - 1)), 'BAD_OUTPUT', /out holds 2999 floats; 500 keys of dim 6 from row 0 need 3000/);
  throwsHps(() => arena.lookup(keys, new Float32Array(500 * dim), 2), 'BAD_OUTPUT', /from row 2 need 3012/);
  throwsHps(() => arena.lookup(keys, new Float32Array(500 * dim), -1), 'BAD_OUTPUT', /outRowOffset is -1: expected an integer >= 0/);
  throwsHps(() => arena.lookup(keys, new Uint8Array(500 * dim * 4) as never), 'BAD_OUTPUT', /out must be a Float32Array, got Uint8Array/);
  throwsHps(() => arena.lookup(new BigUint64Array(3) as never, new Float32Array(3 * dim)), 'BAD_KEY', /got BigUint64Array/);
  throwsHps(() => arena.erase(new Int32Array(3) as never), 'BAD_KEY', /HostArena\.erase: keys must be a BigInt64Array/);

  // Nothing changed: same size, same counters (failed calls did no lookups), same rows.
  const after = arena.stats();
  assert.equal(after, before);
  const out = new Float32Array(500 * dim);
  assert.is(compare(model, keys, out, arena.lookup(keys, out)), null);
  assert.is(arena.lookup(fresh, new Float32Array(10 * dim)).length, 10, 'rejected inserts added nothing');
});

test('an insert that cannot fit in the partition memory fails with CAPACITY before changing anything', () => {
  const rand = rng(32);
  const dim = 256;
  const arena = HostArena.create({ dim, numPartitions: 2, maxPartitionBytes: 4 << 20 });
  const model = new RowModel(dim);
  const keys = randomKeys(rand, 2000);
  const rows = randomRows(rand, 2000, dim);
  arena.insert(keys.subarray(0, 1000), rows.subarray(0, 1000 * dim));
  model.insert(keys.subarray(0, 1000), rows.subarray(0, 1000 * dim));
  // 1 KiB rows: 4 MiB per partition cannot hold 5000 more keys in either partition.
  const more = randomKeys(rand, 10000, new Set(keys));
  throwsHps(() => arena.insert(more, randomRows(rand, 10000, dim)), 'CAPACITY', /partition \d cannot grow to hold \d+ more keys of dim 256 \(4194304 bytes per partition\); nothing was inserted/);
  assert.is(arena.size, 1000);
  assert.is(arena.lookup(more, new Float32Array(10000 * dim)).length, 10000, 'none of the batch was inserted');
  const out = new Float32Array(1000 * dim);
  assert.is(compare(model, keys.subarray(0, 1000), out, arena.lookup(keys.subarray(0, 1000), out)), null);
  // Replacing rows of held keys needs no room and still works.
  const again = randomRows(rand, 1000, dim);
  arena.insert(keys.subarray(0, 1000), again);
  model.insert(keys.subarray(0, 1000), again);
  assert.is(compare(model, keys.subarray(0, 1000), out, arena.lookup(keys.subarray(0, 1000), out)), null);
  arena.close();
});

test.run();
