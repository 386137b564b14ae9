import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bucketByKeyOrder } from '../engine/import/key-order-buckets.js';
import { sortOrder } from '../engine/import/sorted-runs.js';
import { randomBitKeys, rng } from './helpers/random.js';

test('bucketByKeyOrder regroups rows in place: the rewritten order reads the same keys and exact rows in key order', () => {
  const rand = rng(41);
  // dim 2048: 256 rows per 2 MiB bucket, so these sizes give 1 to 12 buckets, the last one partial.
  for (const [n, dim] of [[1, 3], [257, 2048], [3000, 2048], [5000, 64]] as const) {
    const keys = randomBitKeys(rand, n);
    for (let i = 0; i < n; i += 9) keys[i] = keys[Math.floor(rand() * n)];   // repeats: file order must hold
    const words = new Int32Array(n * dim);
    for (let i = 0; i < words.length; i++) words[i] = (rand() * 2 ** 32) | 0;   // any bits, NaN payloads included
    const vectors = new Float32Array(words.buffer);
    const refKeys = keys.slice();
    const refWords = words.slice();
    const refOrder = sortOrder(refKeys);
    const order = sortOrder(keys);
    if (!order || !refOrder) { assert.ok(n < 2, 'random keys are unsorted'); continue; }
    bucketByKeyOrder({ keys, vectors }, dim, order);
    const oneBucket = n * dim * 4 <= 2 << 20;
    assert.is(Buffer.from(words.buffer).equals(Buffer.from(refWords.buffer)), oneBucket, `${n} x ${dim}: rows moved only with several buckets`);
    for (let j = 0; j < n; j++) {
      const p = order[j], r = refOrder[j];
      assert.is(keys[p], refKeys[r], `${n} x ${dim}: key ${j} in key order`);
      for (let k = 0; k < dim; k++) {
        if (words[p * dim + k] !== refWords[r * dim + k]) assert.unreachable(`${n} x ${dim}: row of key ${j} differs at ${k}`);
      }
    }
    assert.equal([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'order is a permutation');
  }
});

test.run();
