/**
 * The shape of the synthetic Criteo-like data set and its generator: 13 dense features and 26
 * categorical features whose vocabularies grow from 10 to 10^6 (log-spaced), ids drawn from a Zipf
 * distribution, in two embedding tables (dim 16 and dim 64). Everything is seeded, so the same options
 * give the same files and the same batches.
 *
 * Feature layout (HugeCTR style: each feature owns a key range of its table, key = offset + id):
 * - table `cat16` (dim 16): 22 one-hot features, the largest vocabularies;
 * - table `cat64` (dim 64): 2 one-hot features (C1, C2, vocabularies 10 and 16) and 2 multi-hot features
 *   (C15, C16, 1 to `maxMultiHot` ids per sample, mean-pooled).
 */

export const DENSE_FEATURES = 13;
export const CATEGORICAL_FEATURES = 26;
export const ZIPF_EXPONENT = 1.05;

export interface DatasetOptions {
  /** Largest vocabulary is 10^maxVocabExponent (6 for Criteo's shape; smaller for a quick run). */
  maxVocabExponent: number;
  /** Most ids a multi-hot feature has in one sample. */
  maxMultiHot: number;
  seed: number;
}

export const FULL_DATASET: DatasetOptions = { maxVocabExponent: 6, maxMultiHot: 5, seed: 2026 };
export const QUICK_DATASET: DatasetOptions = { maxVocabExponent: 4, maxMultiHot: 5, seed: 2026 };

/** One categorical feature: which table it reads, its key range there and how many ids a sample has. */
export interface Feature {
  name: string;
  vocab: number;
  table: 'cat16' | 'cat64';
  /** First key of the feature's range in its table. */
  offset: number;
  multiHot: boolean;
}

export interface TableSpec {
  name: 'cat16' | 'cat64';
  dim: number;
  /** Rows = keys 0 .. rows - 1. */
  rows: number;
}

export interface Layout {
  features: Feature[];
  tables: { cat16: TableSpec; cat64: TableSpec };
  /** The features in each model input, in order. */
  oneHot16: Feature[];
  oneHot64: Feature[];
  multiHot64: Feature[];
}

const MULTI_HOT = new Set([14, 15]);
const ONE_HOT_64 = new Set([0, 1]);

export function layout(o: DatasetOptions): Layout {
  const next = { cat16: 0, cat64: 0 };
  const features: Feature[] = [];
  for (let i = 0; i < CATEGORICAL_FEATURES; i++) {
    const vocab = Math.round(10 ** (1 + ((o.maxVocabExponent - 1) * i) / (CATEGORICAL_FEATURES - 1)));
    const table = MULTI_HOT.has(i) || ONE_HOT_64.has(i) ? 'cat64' : 'cat16';
    features.push({ name: `C${i + 1}`, vocab, table, offset: next[table], multiHot: MULTI_HOT.has(i) });
    next[table] += vocab;
  }
  return {
    features,
    tables: { cat16: { name: 'cat16', dim: 16, rows: next.cat16 }, cat64: { name: 'cat64', dim: 64, rows: next.cat64 } },
    oneHot16: features.filter((f) => f.table === 'cat16'),
    oneHot64: features.filter((f) => f.table === 'cat64' && !f.multiHot),
    multiHot64: features.filter((f) => f.multiHot),
  };
}

/**
 * A batch of samples as the model's lookups want it: keys sample-major, so that row b * F + f of a
 * lookup's output (the input tensor [batch, F, dim]) is feature f of sample b.
 */
export interface Batch {
  size: number;
  /** size x 13 dense features (log-transformed counts, as Criteo's are usually fed). */
  dense: Float32Array;
  /** size x 22 keys of table cat16. */
  keys16: BigInt64Array;
  /** size x 2 keys of table cat64 (the one-hot features). */
  keys64: BigInt64Array;
  /** Keys of the multi-hot features of table cat64, CSR by `multiOffsets` (row b * 2 + f). */
  multiKeys: BigInt64Array;
  /** size x 2 + 1 ascending offsets into multiKeys. */
  multiOffsets: Uint32Array;
}

/** mulberry32: a small seeded PRNG, floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf(s) over ids 0..n-1 by inverse CDF; rank r is id perm[r], so the hot ids are scattered. */
class ZipfIds {
  private readonly cdf: Float64Array;
  private readonly perm: Int32Array;

  constructor(n: number, exponent: number, rand: () => number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = sum += 1 / (r + 1) ** exponent;
    for (let r = 0; r < n; r++) this.cdf[r] /= sum;
    this.perm = new Int32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = this.perm[i];
      this.perm[i] = this.perm[j];
      this.perm[j] = t;
    }
  }

  draw(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return this.perm[lo];
  }
}

/** Draws batches of samples; `stream` picks an independent, repeatable sequence. */
export class SampleGenerator {
  private readonly ids: ZipfIds[];
  private readonly rand: () => number;
  private readonly maxMultiHot: number;

  constructor(readonly layout: Layout, o: DatasetOptions, stream = 0) {
    const setup = seededRandom(o.seed);
    this.ids = layout.features.map((f) => new ZipfIds(f.vocab, ZIPF_EXPONENT, setup));
    this.rand = seededRandom(o.seed * 7919 + 1 + stream);
    this.maxMultiHot = o.maxMultiHot;
  }

  next(size: number): Batch {
    const { oneHot16, oneHot64, multiHot64 } = this.layout;
    const rand = this.rand;
    const dense = new Float32Array(size * DENSE_FEATURES);
    for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(Math.floor(-Math.log(1 - rand()) * 20));
    const keys16 = this.oneHot(oneHot16, size);
    const keys64 = this.oneHot(oneHot64, size);
    const multiOffsets = new Uint32Array(size * multiHot64.length + 1);
    const counts = new Uint8Array(size * multiHot64.length);
    for (let r = 0; r < counts.length; r++) {
      counts[r] = 1 + Math.floor(rand() * this.maxMultiHot);
      multiOffsets[r + 1] = multiOffsets[r] + counts[r];
    }
    const multiKeys = new BigInt64Array(multiOffsets[counts.length]);
    for (let r = 0; r < counts.length; r++) {
      const f = multiHot64[r % multiHot64.length];
      const ids = this.ids[this.layout.features.indexOf(f)];
      for (let k = multiOffsets[r]; k < multiOffsets[r + 1]; k++) multiKeys[k] = BigInt(f.offset + ids.draw(rand()));
    }
    return { size, dense, keys16, keys64, multiKeys, multiOffsets };
  }

  private oneHot(features: Feature[], size: number): BigInt64Array {
    const keys = new BigInt64Array(size * features.length);
    const samplers = features.map((f) => this.ids[this.layout.features.indexOf(f)]);
    for (let b = 0; b < size; b++) {
      for (let f = 0; f < features.length; f++) keys[b * features.length + f] = BigInt(features[f].offset + samplers[f].draw(this.rand()));
    }
    return keys;
  }
}

/** The rows of a table: random float32 in [-0.5, 0.5), never zero, seeded by the table's name. */
export function tableRows(spec: TableSpec, seed: number): Float32Array {
  const rand = seededRandom(seed ^ (spec.dim * 0x9e3779b1));
  const rows = new Float32Array(spec.rows * spec.dim);
  for (let i = 0; i < rows.length; i++) rows[i] = rand() - 0.5 || 0.25;
  return rows;
}
