import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PipelineKernels, type Combiner } from '../engine/pipeline/kernels-wasm.js';
import { rng } from './helpers/random.js';
import { HpsError } from '../engine/errors.js';


/** n keys drawn from `distinct` random 64-bit keys (so with repeats), including negative bit patterns. */
function keysWithRepeats(rand: () => number, n: number, distinct: number): BigInt64Array {
  const pool = new BigInt64Array(distinct);
  const halves = new Uint32Array(pool.buffer);
  for (let i = 0; i < halves.length; i++) halves[i] = Math.floor(rand() * 4294967296);
  return BigInt64Array.from({ length: n }, () => pool[Math.floor(rand() * distinct)]);
}

function randomRows(rand: () => number, n: number, dim: number): Float32Array {
  return Float32Array.from({ length: n * dim }, () => rand() * 2 - 1 || 0.25);
}

const kernels = new PipelineKernels();

test('dedup: unique keys in order of first occurrence and the inverse map, against a Map', () => {
  const rand = rng(1);
  for (const [n, distinct] of [[0, 1], [1, 1], [17, 5], [1000, 300], [70_000, 20_000], [5000, 5000]]) {
    const keys = keysWithRepeats(rand, n, distinct);
    const { unique, inverse } = kernels.dedup(keys);
    const first = new Map<bigint, number>();
    const expectedInverse = Array.from(keys, (k) => {
      if (!first.has(k)) first.set(k, first.size);
      return first.get(k)!;
    });
    assert.equal(Array.from(unique), [...first.keys()], `n ${n}: unique`);
    assert.equal(Array.from(inverse), expectedInverse, `n ${n}: inverse`);
  }
});

test('dedup then scatter restores every row in request order, repeats included', () => {
  const rand = rng(2);
  for (const dim of [1, 3, 16, 129]) {
    const keys = keysWithRepeats(rand, 3000, 700);
    const { unique, inverse } = kernels.dedup(keys);
    const rowOf = new Map<bigint, Float32Array>();
    const uniqueRows = randomRows(rand, unique.length, dim);
    unique.forEach((k, u) => rowOf.set(k, uniqueRows.subarray(u * dim, (u + 1) * dim)));
    const out = kernels.scatter(uniqueRows, inverse, dim);
    keys.forEach((k, i) => assert.equal(out.subarray(i * dim, (i + 1) * dim), rowOf.get(k), `dim ${dim}, position ${i}`));
    const given = new Float32Array(keys.length * dim + 5).fill(9);
    kernels.scatter(uniqueRows, inverse, dim, given);
    assert.equal(given.subarray(0, keys.length * dim), out);
    assert.equal(Array.from(given.subarray(keys.length * dim)), [9, 9, 9, 9, 9], 'nothing written past the rows');
  }
});

/** The float64 reference of one pooled batch: rows[r] of the combination, plus a bound on float32 error. */
function reference(
  keyRows: Float32Array, offsets: Uint32Array, dim: number, combiner: Combiner, weights: Float32Array | null,
): { rows: Float64Array; bound: Float64Array } {
  const nrows = offsets.length - 1;
  const rows = new Float64Array(nrows * dim);
  const bound = new Float64Array(nrows * dim);
  for (let r = 0; r < nrows; r++) {
    const b = offsets[r], e = offsets[r + 1];
    let wsum = 0, wsq = 0, wabs = 0;
    const abs = new Float64Array(dim);
    for (let j = b; j < e; j++) {
      const w = weights ? weights[j] : 1;
      wsum += w; wsq += w * w; wabs += Math.abs(w);
      for (let d = 0; d < dim; d++) {
        rows[r * dim + d] += w * keyRows[j * dim + d];
        abs[d] += Math.abs(w * keyRows[j * dim + d]);
      }
    }
    const divisor = combiner === 'sum' ? 1 : combiner === 'mean' ? wsum : Math.sqrt(wsq);
    const empty = e === b || divisor === 0;
    // Float32 rounding, about 2^-24 per operation on the magnitudes summed: in the numerator, and in the
    // divisor (relative to it; large when weights of both signs cancel in a mean).
    const unit = (e - b + 3) * 2 ** -23;
    const divisorError = combiner === 'mean' ? (unit * wabs) / Math.abs(wsum) : combiner === 'sqrtn' ? unit : 0;
    for (let d = 0; d < dim; d++) {
      rows[r * dim + d] = empty ? 0 : rows[r * dim + d] / divisor;
      bound[r * dim + d] = empty ? 0 : (unit * abs[d]) / Math.abs(divisor) + Math.abs(rows[r * dim + d]) * divisorError + 1e-30;
    }
  }
  return { rows, bound };
}

function csr(rand: () => number, nrows: number, maxPerRow: number): Uint32Array {
  const offsets = new Uint32Array(nrows + 1);
  for (let r = 0; r < nrows; r++) {
    const len = rand() < 0.15 ? 0 : Math.floor(rand() * (maxPerRow + 1));
    offsets[r + 1] = offsets[r] + len;
  }
  return offsets;
}

for (const combiner of ['sum', 'mean', 'sqrtn'] as Combiner[]) {
  for (const weighted of [false, true]) {
    test(`pool ${combiner} ${weighted ? 'with' : 'without'} weights equals a float64 reference within float32 rounding, empty rows included`, () => {
      const rand = rng(combiner.length * 10 + (weighted ? 1 : 0));
      for (const dim of [1, 4, 7, 64]) {
        const offsets = csr(rand, 300, 12);
        const n = offsets[offsets.length - 1];
        const keys = keysWithRepeats(rand, n, Math.max(1, n >> 2));
        const { unique, inverse } = kernels.dedup(keys);
        const uniqueRows = randomRows(rand, unique.length, dim);
        const weights = weighted ? Float32Array.from({ length: n }, () => rand() * 3 - 1 || 0.5) : null;
        const keyRows = kernels.scatter(uniqueRows, inverse, dim);
        const got = kernels.pool(uniqueRows, inverse, offsets, dim, combiner, weights);
        const { rows, bound } = reference(keyRows, offsets, dim, combiner, weights);
        let empties = 0;
        for (let r = 0; r < 300; r++) if (offsets[r] === offsets[r + 1]) empties++;
        assert.ok(empties > 0, 'the batch has empty rows');
        for (let i = 0; i < rows.length; i++) {
          if (!(Math.abs(got[i] - rows[i]) <= bound[i])) {
            assert.unreachable(`dim ${dim}, row ${Math.floor(i / dim)}, element ${i % dim}: got ${got[i]}, expected ${rows[i]} within ${bound[i]}`);
          }
        }
      }
    });
  }
}

test('pool: weights that sum to zero give zeros for mean; zero weights give zeros for sqrtn', () => {
  const rows = new Float32Array([1, 2, 3, 4]);
  const inverse = new Uint32Array([0, 1]);
  const offsets = new Uint32Array([0, 2]);
  assert.equal(Array.from(kernels.pool(rows, inverse, offsets, 2, 'mean', new Float32Array([1, -1]))), [0, 0]);
  assert.equal(Array.from(kernels.pool(rows, inverse, offsets, 2, 'sqrtn', new Float32Array([0, 0]))), [0, 0]);
  assert.equal(Array.from(kernels.pool(rows, inverse, offsets, 2, 'sum', new Float32Array([1, -1]))), [-2, -2]);
  assert.equal(Array.from(kernels.pool(rows, inverse, offsets, 2, 'mean')), [2, 3]);
});

test('misuse is an internal assertion (a bug), never an HpsError: ParameterServer checks these arguments first', () => {
  const rows = new Float32Array(12);
  const inverse = new Uint32Array([0, 2, 1]);
  const bug = (fn: () => unknown, pattern: RegExp) => {
    try {
      fn();
    } catch (e) {
      assert.not.instance(e, HpsError);
      assert.match((e as Error).message, /^hps-node internal error: /);
      assert.match((e as Error).message, pattern);
      return;
    }
    assert.unreachable('expected an internal assertion');
  };
  bug(() => kernels.dedup([1, 2] as never), /keys must be a BigInt64Array/);
  bug(() => kernels.scatter(rows, new Uint32Array([0, 3, 1]), 4), /inverse\[1\] = 3 is not below the 3 unique rows/);
  bug(() => kernels.scatter(new Float32Array(10), inverse, 4), /uniqueRows must be a Float32Array of whole rows of dim 4/);
  bug(() => kernels.scatter(rows, inverse, 0), /dim must be an integer >= 1, got 0/);
  bug(() => kernels.scatter(rows, inverse, 4, new Float32Array(11)), /out must be a Float32Array of at least inverse\.length x dim = 12 floats/);
  bug(() => kernels.scatter(rows, [0, 1] as never, 4), /inverse must be a Uint32Array/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([0, 2, 1, 3]), 4, 'sum'), /offsets\[2\] = 1 breaks the CSR rule/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([1, 3]), 4, 'sum'), /offsets\[0\] = 1 breaks the CSR rule/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([0, 2]), 4, 'sum'), /offsets\[1\] = 2 breaks the CSR rule \(0 first, non-decreasing, 3 last\)/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array(0), 4, 'sum'), /offsets must be a Uint32Array/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([0, 3]), 4, 'max' as Combiner), /unknown combiner max/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([0, 3]), 4, 'mean', new Float32Array(2)), /weights must be null or one float per key/);
  bug(() => kernels.pool(rows, inverse, new Uint32Array([0, 1, 3]), 4, 'sum', null, new Float32Array(7)), /at least rows \(offsets\.length - 1\) x dim = 8 floats/);
  bug(() => kernels.scatterStaged(new Uint32Array(2), new Float32Array(8)), /scatterStaged: expected the inverse map/);
});

test.run();
