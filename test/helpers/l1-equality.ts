import * as assert from 'uvu/assert';
import type { ParameterServer } from '../../engine/index.js';
import type { PipelineFixture } from './pipeline-fixture.js';
import { randomVectors } from './lmdb-random.js';
import { rng } from './random.js';

/**
 * The same random stream of lookups (repeats and absent keys), lookupMany, pooled lookups (every
 * combiner, with and without weights), updates, erases and prefetches into a server with the WASM L1
 * (`wasm`) and one with another L1 (`other`), over fixtures of the same rows in separate stores:
 * every result must be equal (pooled within float32 rounding) and equal an independent reference.
 */
export async function sameAsWasm(wasm: ParameterServer, other: ParameterServer, wasmFx: PipelineFixture, seed: number, rounds = 40): Promise<void> {
  const N = wasmFx.keys.length;
  const DIM = wasmFx.dim;
  const expectedOf = (ref: Map<bigint, Float32Array>, keys: BigInt64Array, defaultValue: number) => expectedRows(ref, keys, defaultValue, DIM);

  const ref = new Map(wasmFx.reference);
  const rand = rng(seed);
  const pick = (n: number) => BigInt64Array.from({ length: n }, () => {
    const u = rand();
    return u < 0.08 ? wasmFx.absent(200)[Math.floor(rand() * 200)] : wasmFx.keys[Math.floor(u * u * N)];
  });
  for (let round = 0; round < rounds; round++) {
    const op = Math.floor(rand() * 6);
    const keys = pick(1 + Math.floor(rand() * 600));
    if (op <= 1) {
      const [a, b] = await Promise.all([wasm.lookup('m', 't', keys), other.lookup('m', 't', keys)]);
      const want = expectedOf(ref, keys, wasmFx.defaultValue);
      assert.equal(b, a, `round ${round}: lookup`);
      assert.equal(a, want, `round ${round}: lookup vs reference`);
    } else if (op === 2) {
      const more = pick(50);
      const specs = [{ table: 't', keys }, { table: 0, keys: more }];
      const [a, b] = await Promise.all([wasm.lookupMany('m', specs), other.lookupMany('m', specs)]);
      assert.equal(b, a, `round ${round}: lookupMany`);
      assert.equal(b[1], expectedOf(ref, more, wasmFx.defaultValue));
    } else if (op === 3) {
      const rows = 1 + Math.floor(rand() * 40);
      const offsets = new Uint32Array(rows + 1);
      for (let r = 1; r <= rows; r++) offsets[r] = r === rows ? keys.length : Math.min(keys.length, offsets[r - 1] + Math.floor(rand() * (2 * keys.length / rows)));
      const combiner = (['sum', 'mean', 'sqrtn'] as const)[round % 3];
      const weights = rand() < 0.5 ? randomVectors(keys.length, 1, round) : undefined;
      const [a, b] = await Promise.all([
        wasm.lookupPooled('m', 't', keys, offsets, { combiner, weights }),
        other.lookupPooled('m', 't', keys, offsets, { combiner, weights }),
      ]);
      close(b, a, `round ${round}: pooled ${combiner}`);
      close(b, pooledRef(expectedOf(ref, keys, wasmFx.defaultValue), offsets, combiner, weights ?? null, DIM), `round ${round}: pooled vs reference`);
    } else if (op === 4) {
      const distinct = BigInt64Array.from(new Set(keys));
      if (rand() < 0.6) {
        const vectors = randomVectors(distinct.length, DIM, 500 + round);
        await Promise.all([wasm.update('m', 't', distinct, vectors), other.update('m', 't', distinct, vectors)]);
        distinct.forEach((k, i) => ref.set(k, vectors.slice(i * DIM, (i + 1) * DIM)));
      } else {
        const gone = distinct.subarray(0, Math.ceil(distinct.length / 4));
        await Promise.all([wasm.erase('m', 't', gone), other.erase('m', 't', gone)]);
        gone.forEach((k) => ref.delete(k));
      }
    } else {
      await Promise.all([wasm.prefetch('m', 't', keys), other.prefetch('m', 't', keys)]);
    }
  }
}

/** Rows of `keys` in a reference Map, the default vector elsewhere. */
export function expectedRows(ref: Map<bigint, Float32Array>, keys: BigInt64Array, defaultValue: number, dim: number): Float32Array {
  const out = new Float32Array(keys.length * dim);
  keys.forEach((k, i) => {
    const row = ref.get(k);
    if (row) out.set(row, i * dim);
    else out.fill(defaultValue, i * dim, (i + 1) * dim);
  });
  return out;
}

/** Pooled rows in float64 from the rows of every key. */
export function pooledRef(rows: Float32Array, offsets: Uint32Array, combiner: 'sum' | 'mean' | 'sqrtn', w: Float32Array | null, dim: number): Float64Array {
  const r = offsets.length - 1;
  const out = new Float64Array(r * dim);
  for (let i = 0; i < r; i++) {
    let norm = 0;
    for (let j = offsets[i]; j < offsets[i + 1]; j++) {
      const wj = w ? w[j] : 1;
      for (let d = 0; d < dim; d++) out[i * dim + d] += wj * rows[j * dim + d];
      norm += combiner === 'sqrtn' ? wj * wj : wj;
    }
    const div = combiner === 'sum' ? 1 : combiner === 'mean' ? norm : Math.sqrt(norm);
    for (let d = 0; d < dim; d++) out[i * dim + d] = offsets[i + 1] === offsets[i] || div === 0 ? 0 : out[i * dim + d] / div;
  }
  return out;
}

function close(a: Float32Array, b: Float64Array | Float32Array, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(b[i])))) assert.unreachable(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}
