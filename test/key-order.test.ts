import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keyOrder } from '../engine/pipeline/key-order.js';
import { randomBitKeys, rng } from './helpers/random.js';

/** The reference: positions sorted by signed key, ties by position (a stable sort). */
function reference(keys: BigInt64Array): number[] {
  return Array.from(keys.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
}

test('keyOrder gives the ascending signed order of random 64-bit keys, stable for repeats', () => {
  const rand = rng(3);
  for (const n of [0, 1, 2, 3, 255, 256, 2400, 20000]) {
    const keys = randomBitKeys(rand, n);
    // Repeats, and keys that share high bytes (passes skipped), as real tables have.
    for (let i = 0; i < n; i += 7) keys[i] = keys[Math.floor(rand() * n)];
    for (let i = 3; i < n; i += 11) keys[i] = BigInt(Math.floor(rand() * 1000)) - 500n;
    assert.equal([...keyOrder(keys)], reference(keys), `${n} keys`);
  }
});

test('keyOrder of keys that differ only in their low bits, and of one key repeated', () => {
  const keys = BigInt64Array.from({ length: 1000 }, (_, i) => BigInt((i * 7919) % 1000));
  assert.equal([...keyOrder(keys)], reference(keys));
  const same = new BigInt64Array(300).fill(-42n);
  assert.equal([...keyOrder(same)], reference(same));
});

test.run();
